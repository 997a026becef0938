package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** What holds for every command and option of {@code drafter}, read from picocli's model of the command line. */
class CliConventionsTest {
    /** Every command of the tree, with its qualified name. */
    static List<CommandLine> commands() {
        List<CommandLine> all = new ArrayList<>();
        collect(Drafter.commandLine(), all);
        return all;
    }

    private static void collect(CommandLine c, List<CommandLine> all) {
        all.add(c);
        c.getSubcommands().values().stream().distinct().forEach(s -> collect(s, all));
    }

    static Stream<Arguments> longOptions() {
        List<Arguments> out = new ArrayList<>();
        for (CommandLine c : commands()) {
            if (c.getCommand() instanceof CommandLine.HelpCommand) {
                continue; // picocli's own "help" subcommand: its -h/--help are picocli's
            }
            for (OptionSpec o : c.getCommandSpec().options()) {
                for (String n : o.names()) {
                    if (n.startsWith("--")) {
                        out.add(Arguments.of(c.getCommandSpec().qualifiedName(), n, o));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("longOptions")
    void everyLongOptionHasItsSingleDashForm(String command, String name, OptionSpec option) {
        String single = name.substring(1);
        assertTrue(
                Arrays.asList(option.names()).contains(single),
                command + " " + name + " has no " + single + " (Drafter's flags all take one dash): "
                        + Arrays.toString(option.names()));
    }

    static Stream<Arguments> allCommands() {
        return commands().stream().map(c -> Arguments.of(c.getCommandSpec().qualifiedName(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCommands")
    void helpShowsDefaults(String command, CommandLine c) {
        assertTrue(c.getCommandSpec().usageMessage().showDefaultValues(), command);
        String help = c.getUsageMessage(CommandLine.Help.Ansi.OFF);
        assertFalse(help.contains("(default: ${"), help);
        assertFalse(help.contains("Default: null"), help);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCommands")
    void versionIsTheBuildsVersion(String command, CommandLine c) {
        String built = System.getProperty("drafter.build.version");
        assertTrue(built != null && !built.isBlank() && !built.contains("${"), "no build version: " + built);
        StringWriter out = new StringWriter();
        c.setOut(new PrintWriter(out));
        c.printVersionHelp(new PrintWriter(out), CommandLine.Help.Ansi.OFF);
        assertEquals("drafter " + built, out.toString().strip(), command);
    }

    @Test
    void dashDashVersionPrintsIt() {
        StringWriter out = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setOut(new PrintWriter(out));
        assertEquals(0, cli.execute("-version"));
        assertEquals(
                "drafter " + System.getProperty("drafter.build.version"),
                out.toString().strip());
    }

    @Test
    void peerHelpShowsItsDefaults() {
        String help = Drafter.commandLine().getSubcommands().get("peer").getUsageMessage(CommandLine.Help.Ansi.OFF);
        assertTrue(help.contains("Default: localhost:1337"), help);
        assertTrue(help.contains("Default: 1m"), help);
        assertTrue(help.contains("-laddr"), help);
    }
}
