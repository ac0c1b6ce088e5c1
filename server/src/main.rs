//! `cecyber`: reads the configuration, builds the runtime, serves the router, and stops within
//! a bounded time.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use server::{config, router, runtime, serve, shutdown};
use tracing_subscriber::EnvFilter;

/// What the runtime's own tasks get to finish after the server has stopped.
const RUNTIME_EXIT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
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
    let tokio = match tokio::runtime::Runtime::new() {
        Ok(tokio) => tokio,
        Err(e) => {
            eprintln!("cecyber: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = tokio.block_on(serve(config));
    // Whatever still runs (a console closing, a stuck PVE call) gets a moment, not forever.
    tokio.shutdown_timeout(RUNTIME_EXIT);
    code
}

async fn serve(config: config::Config) -> ExitCode {
    // SIGHUP (`systemctl reload`) must never end the server, not even while it starts up:
    // from here on the signal is handled (tokio keeps a handler for the process's life), and
    // once serving, it reloads the certificate or is logged.
    #[cfg(unix)]
    if let Err(e) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tracing::warn!(error = %e, "no SIGHUP handler: a SIGHUP would end the server");
    }
    let serving = match serve::Serving::from_config(&config) {
        Ok(serving) => serving,
        Err(e) => {
            eprintln!("cecyber: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    let served = serve::serve(
        listener,
        router::app(&runtime),
        serving,
        runtime.shutdown.clone(),
    );
    let stop = async {
        shutdown::signal().await;
        tracing::info!(
            grace_secs = config.shutdown_grace_secs,
            "stopping: no new connections; closing live streams and consoles"
        );
        runtime.shutdown.begin();
        tokio::select! {
            () = tokio::time::sleep(config.shutdown_grace()) => {
                tracing::warn!("stopping: connections still open after the grace period; exiting anyway");
            }
            () = shutdown::signal() => tracing::warn!("stopping: second signal; exiting now"),
        }
    };
    tokio::select! {
        () = served => {},
        () = stop => {},
    }
    // Let SQLite finish its last writes and checkpoint, within bounds.
    if tokio::time::timeout(RUNTIME_EXIT, runtime.state.db.close())
        .await
        .is_err()
    {
        tracing::warn!("stopping: the database did not close in time");
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

fn print_banner(config: &config::Config, runtime: &runtime::Runtime) {
    println!();
    let scheme = if config.tls.files().is_some() {
        "https"
    } else {
        "http"
    };
    println!("  Cecyber is running on {scheme}://{}", config.listen);
    if let Some(sim) = &runtime.simulator {
        println!(
            "  Demo mode: simulated Proxmox VE cluster at {}",
            server::demo::address(sim)
        );
    }
    match &runtime.generated_admin_password {
        Some(password) => {
            println!("  First start: log in as  admin  with password  {password}");
            println!(
                "  (shown only now; set admin_password or CECYBER_ADMIN_PASSWORD to choose it)"
            );
        }
        None if config.admin_password.is_some() => {
            println!(
                "  Log in as  admin  with the password set by admin_password (or CECYBER_ADMIN_PASSWORD)"
            )
        }
        None => println!(
            "  Log in with your existing account (the admin password was printed at the first start)"
        ),
    }
    println!();
}
