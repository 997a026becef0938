package io.drafter.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code drafter} command. Each capability is a subcommand; the {@code drafter-<name>} launchers in
 * {@code bin/} call {@code drafter <name>} with Drafter's flags unchanged.
 */
@Command(
        name = "drafter",
        mixinStandardHelpOptions = true,
        version = "drafter 0.1.0",
        description = "Package, snapshot, run and live-migrate whole Linux VMs.",
        subcommands = {
            CommandLine.HelpCommand.class,
            OsCommand.class,
            SnapshotterCommand.class,
            NatCommand.class,
            ForwarderCommand.class,
            PackagerCommand.class,
            OciCommand.class,
            PeerCommand.class,
            RunnerCommand.class,
            TerminatorCommand.class
        })
public final class Drafter implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand");
    }

    /** Builds the command line with the project's error handling: bad input is one line on stderr, exit 2. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Drafter());
        cli.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("drafter: " + ex.getMessage());
            c.getErr().println("try '" + c.getCommandSpec().qualifiedName() + " --help'");
            return 2;
        });
        cli.setExecutionExceptionHandler((ex, c, _) -> {
            c.getErr().println("drafter: " + oneLine(ex));
            return 1;
        });
        return cli;
    }

    /** The message of {@code t} on one line, falling back to its type when it has none. */
    static String oneLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        }
        return m.replace('\n', ' ');
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
