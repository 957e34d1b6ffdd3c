use clap::Parser;

fn main() {
    maestro::quiet_on_closed_pipe();
    let cli = maestro::cli::Cli::parse();
    let code = match maestro::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("maestro: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
