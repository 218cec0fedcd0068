//! `flux`: the command line of the toolkit, command- and output-compatible
//! with upstream's `flux` for the kinds `fluxd` serves.
//!
//! Errors are one line on stderr (`✗ …`) and exit code 1; nothing panics
//! on user input.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

mod cli;
mod client;
mod commands;
mod install;
mod kinds;
mod output;

use clap::Parser as _;

use cli::{BuildCommand, Cli, Command, DiffCommand, TreeCommand};
use client::{Error, connect};
use commands::{
    artifact, bootstrap, build, create, events, get, helmrelease, logs, manage, reconcile, system,
    trace, tree,
};

/// The CLI's version (the workspace's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// mimalloc: rendering and YAML work allocate many small objects; it is
/// markedly faster than the system allocator for them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                std::process::exit(0);
            }
            // One line, as upstream's cobra errors: clap's first line
            // without its `error: ` prefix.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            output::failure(first.trim_start_matches("error: "));
            std::process::exit(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            output::failure(format!("starting: {e}"));
            std::process::exit(1);
        }
    };
    // `flux diff`: 1 when something would change, 2 on errors (upstream's codes).
    let diff = match &cli.command {
        Command::Diff(DiffCommand::Kustomization(args)) => {
            Some(runtime.block_on(build::diff(&cli.global, args)))
        }
        Command::Diff(DiffCommand::Helmrelease(args)) => {
            Some(runtime.block_on(helmrelease::diff(&cli.global, args)))
        }
        _ => None,
    };
    if let Some(outcome) = diff {
        match outcome {
            Ok(build::DiffOutcome::Same) => std::process::exit(0),
            Ok(build::DiffOutcome::Changed) => {
                output::warning("identified at least one change, exiting with non-zero exit code");
                std::process::exit(1);
            }
            Err(e) => {
                output::failure(e.to_string());
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = runtime.block_on(run(cli)) {
        output::failure(e.to_string());
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let global = &cli.global;
    match &cli.command {
        Command::Version(args) => system::version(global, args).await,
        Command::Check(args) => system::check(global, args).await,
        Command::Install(args) => system::install(global, args).await,
        Command::Uninstall(args) => system::uninstall(global, args).await,
        Command::Bootstrap(cli::BootstrapCommand::Git(args)) => bootstrap::git(global, args).await,
        Command::Create(command) => {
            if create::export_only(command) {
                client::timeout(global)?;
                create::run(None, &global.namespace, command).await
            } else {
                let ctx = connect(global).await?;
                create::run(Some(&ctx), &global.namespace, command).await
            }
        }
        Command::Get(args) => get::run(&connect(global).await?, args).await,
        Command::Reconcile(command) => reconcile::run(&connect(global).await?, command).await,
        Command::Suspend(args) => manage::suspend(&connect(global).await?, args, false).await,
        Command::Resume(args) => manage::suspend(&connect(global).await?, args, true).await,
        Command::Delete(args) => manage::delete(&connect(global).await?, args).await,
        Command::Export(args) => manage::export(&connect(global).await?, args).await,
        Command::Tree(TreeCommand::Kustomization(args)) => {
            tree::run(&connect(global).await?, args).await
        }
        Command::Events(args) => events::run(&connect(global).await?, args).await,
        Command::Trigger(cli::TriggerCommand::Receiver(args)) => {
            commands::trigger::receiver(global, args).await
        }
        Command::Logs(args) => logs::run(&connect(global).await?, args).await,
        Command::Completion(args) => {
            use clap::CommandFactory;
            let mut buffer = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "flux", &mut buffer);
            output::print(&String::from_utf8_lossy(&buffer));
            Ok(())
        }
        Command::Trace(args) => trace::run(&connect(global).await?, args).await,
        Command::Build(BuildCommand::Kustomization(args)) => build::build(global, args).await,
        Command::Build(BuildCommand::Helm(args)) => build::helm(global, args),
        Command::Build(BuildCommand::Helmrelease(args)) => helmrelease::build(global, args).await,
        Command::Build(BuildCommand::Artifact(args)) => artifact::build(args),
        Command::Diff(DiffCommand::Artifact(args)) => artifact::diff(global, args).await,
        Command::Diff(DiffCommand::Kustomization(_) | DiffCommand::Helmrelease(_)) => {
            Err("flux diff is handled before".into())
        }
        Command::Push(cli::PushCommand::Artifact(args)) => artifact::push(global, args).await,
        Command::Pull(cli::PullCommand::Artifact(args)) => artifact::pull(global, args).await,
        Command::Tag(cli::TagCommand::Artifact(args)) => artifact::tag(global, args).await,
        Command::List(cli::ListCommand::Artifacts(args)) => artifact::list(global, args).await,
    }
}
