use clap::Args;
#[derive(Args)]
pub struct EvalArgs {}
pub fn run(_a: EvalArgs) -> anyhow::Result<std::process::ExitCode> { anyhow::bail!("wip") }
