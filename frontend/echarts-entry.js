// The ECharts build the browser gets (bundled by .ci/vendor.mjs into an IIFE that sets the
// global `echarts`, which charming's WasmRenderer calls: echarts.init, then the instance's
// setOption / resize / dispose). Only what app/src/web/chart.rs draws is registered: a line
// chart with a title, an axis tooltip, a legend and a grid of a time x axis and a value
// y axis, drawn on a canvas. A chart option using anything else (another series type,
// dataZoom, markLine, visualMap, the SVG renderer, …) needs it added to `use` below.
import { use } from 'echarts/core';
import { LineChart } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([
  LineChart,
  TitleComponent,
  // Installs AxisPointerComponent too (tooltip.trigger = 'axis' draws the axis pointer).
  TooltipComponent,
  // Plain and scroll legends (legend.type 'plain' | 'scroll').
  LegendComponent,
  // Cartesian grid with its value / category / time / log axes (and the axis pointer).
  GridComponent,
  CanvasRenderer,
]);

// echarts.init, getInstanceByDom, dispose, registerTheme, graphic, time, format, …
export * from 'echarts/core';
