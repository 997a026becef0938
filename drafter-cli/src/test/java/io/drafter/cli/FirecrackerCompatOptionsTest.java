package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.VmmUser;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/** Drafter's --uid/--gid are honoured or refused, never ignored; --cgroup-version refuses what is not implemented. */
@Timeout(60)
class FirecrackerCompatOptionsTest {
    private static FirecrackerCompatOptions parse(String... args) {
        FirecrackerCompatOptions o = new FirecrackerCompatOptions();
        new CommandLine(o).parseArgs(args);
        return o;
    }

    private static String refusal(String... args) {
        return assertThrows(IllegalArgumentException.class, () -> parse(args).validate())
                .getMessage();
    }

    @Test
    void uidAndGidSelectTheUserQemuRunsAs() {
        assertNull(parse().validate(), "root by default");
        assertNull(parse("--uid", "0", "--gid", "0").validate(), "Drafter's defaults: root");
        assertEquals(
                new VmmUser(1000, 1001), parse("-uid", "1000", "-gid", "1001").validate());
    }

    @Test
    void whatCannotBeHonouredIsRefusedInOneLine() {
        assertEquals(
                "could not use --uid 1000: give --gid too (not 0: group root would open every root-group file to"
                        + " QEMU)",
                refusal("--uid", "1000"));
        assertEquals("could not use --gid 1000 without --uid: QEMU would still run as root", refusal("--gid", "1000"));
        assertEquals("could not use --uid -1: ids are 0 or above", refusal("--uid", "-1", "--gid", "5"));
        assertEquals(
                "could not use --cgroup-version 1: cgroups are not implemented (QEMU stays in drafter's cgroup); only"
                        + " 2 is accepted",
                refusal("--cgroup-version", "1"));
        assertNull(parse("--cgroup-version", "2").validate());
    }

    @Test
    void bothCommandsRefuseBeforeStartingAnything() {
        for (String[] args : new String[][] {
            {"snapshotter", "--netns", "", "--uid", "1000", "--devices", "[]"},
            {"peer", "--raddr", "", "--laddr", "", "--netns", "", "--uid", "1000"}
        }) {
            StringWriter err = new StringWriter();
            var cli = Drafter.commandLine();
            cli.setErr(new PrintWriter(err));
            assertEquals(1, cli.execute(args), err.toString());
            assertTrue(err.toString().startsWith("drafter: could not use --uid 1000: give --gid too"), err.toString());
            assertEquals(1, err.toString().strip().lines().count(), err.toString());
        }
    }

    @Test
    void helpSaysCgroupVersionIsNotImplemented() {
        String help = Drafter.commandLine().getSubcommands().get("peer").getUsageMessage();
        assertTrue(help.contains("--cgroup-version"), help);
        assertTrue(help.contains("Not implemented"), help);
        assertTrue(help.contains("--uid"), help);
    }
}
