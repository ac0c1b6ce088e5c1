//! `cecyber`: reads the configuration, builds the runtime, serves the router.

use std::process::ExitCode;

use clap::Parser;
use server::{config, router, runtime};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = config::Cli::parse();
    let (config, warnings) = match config::load(&cli, std::env::vars()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match runtime::start(&config).await {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cecyber: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cecyber: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    print_banner(&config, &runtime);
    let app = router::app(runtime.state.clone(), runtime.live.clone());
    // The peer address is recorded with each use of a console embed link.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("cecyber: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn print_banner(config: &config::Config, runtime: &runtime::Runtime) {
    println!();
    println!("  Cecyber is running on http://{}", config.listen);
    if let Some(sim) = &runtime.simulator {
        println!(
            "  Demo mode: simulated Proxmox VE cluster at {}",
            sim.base_url()
        );
    }
    match &runtime.generated_admin_password {
        Some(password) => {
            println!("  First start: log in as  admin  with password  {password}");
            println!("  (shown only now; set CECYBER_ADMIN_PASSWORD to choose it)");
        }
        None if config.admin_password.is_some() => {
            println!("  Log in as  admin  with the password from CECYBER_ADMIN_PASSWORD")
        }
        None => println!(
            "  Log in with your existing account (the admin password was printed at the first start)"
        ),
    }
    println!();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
