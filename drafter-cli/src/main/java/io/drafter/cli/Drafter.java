package io.drafter.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code drafter} command. Each capability is a subcommand; the {@code drafter-<name>} launchers in
 * {@code bin/} call {@code drafter <name>} with Drafter's flags unchanged.
 */
@Command(
        name = "drafter",
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
            TerminatorCommand.class,
            RegistryCommand.class,
            MounterCommand.class,
            StatusCommand.class
        })
public final class Drafter implements Runnable {
    /** Commands that a user runs and waits for: quiet (warnings and errors only) unless --log-level says more. */
    static final java.util.Set<String> QUIET_BY_DEFAULT =
            java.util.Set.of("os", "snapshotter", "packager", "oci", "status", "terminator");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(
            names = {"--log-level", "-log-level"},
            scope = CommandLine.ScopeType.INHERIT,
            paramLabel = "LEVEL",
            description = "Log records shown on stderr: error, warn, info or debug (default: warn for os,"
                    + " snapshotter, packager, oci, terminator and status; info for the others).")
    LogSetup.LogLevel logLevel;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand");
    }

    /** Builds the command line with the project's error handling: bad input is one line on stderr, exit 2. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Drafter());
        conventions(cli);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionStrategy(parsed -> {
            LogSetup.configure(logLevel(parsed));
            return new CommandLine.RunLast().execute(parsed);
        });
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

    /**
     * What every command of the tree has: {@code --help} and {@code --version} (also {@code -help}, {@code -version}),
     * the build's version, and the default of each option in its help.
     */
    private static void conventions(CommandLine c) {
        CommandLine.Model.CommandSpec spec = c.getCommandSpec();
        boolean hasHelp = spec.options().stream().anyMatch(CommandLine.Model.OptionSpec::usageHelp);
        if (!hasHelp) {
            spec.addMixin("standardOptions", CommandLine.Model.CommandSpec.forAnnotatedObject(new StandardOptions()));
        }
        spec.versionProvider(new StandardOptions.Version());
        spec.usageMessage().showDefaultValues(true);
        for (CommandLine sub : new java.util.LinkedHashSet<>(c.getSubcommands().values())) {
            conventions(sub);
        }
    }

    /** The {@code --log-level} given at any level of the command line, else the default of the command run. */
    static LogSetup.LogLevel logLevel(CommandLine.ParseResult parsed) {
        LogSetup.LogLevel given = null;
        String command = null;
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            LogSetup.LogLevel l = p.matchedOptionValue("--log-level", null);
            if (l != null) {
                given = l;
            }
            if (p != parsed && command == null) {
                command = p.commandSpec().name();
            }
        }
        if (given != null) {
            return given;
        }
        return command != null && QUIET_BY_DEFAULT.contains(command) ? LogSetup.LogLevel.WARN : LogSetup.LogLevel.INFO;
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
