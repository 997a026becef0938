package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link NfTables#deleteTable} against the kernel's nftables, checked with the {@code nft} tool (as root). */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class NfTablesTest {
    private final String table = "drafter_nltest_" + ProcessHandle.current().pid();

    @AfterEach
    void removeLeftovers() throws Exception {
        for (String family : List.of("ip", "ip6", "inet")) {
            if (tables(family).contains(table)) {
                nft("delete", "table", family, table);
            }
        }
    }

    @Test
    void aTableGoesWithItsChainsAndRulesAndASecondDeleteFindsNone() throws Exception {
        nft(
                "-f",
                "-",
                "table ip " + table + " {\n chain pre {\n  type nat hook prerouting priority dstnat;\n"
                        + "  ip daddr 127.0.0.99 tcp dport 9 dnat to 10.0.0.9:9\n }\n}\n");
        assertTrue(tables("ip").contains(table));
        assertTrue(NfTables.deleteTable("ip", table));
        assertFalse(tables("ip").contains(table));
        assertFalse(NfTables.deleteTable("ip", table), "there is none left");
    }

    @Test
    void aDormantTableIsWokenAndPutToSleepAndItsFlagsAreRead() throws Exception {
        assertEquals(-1, NfTables.tableFlags("ip", table), "no such table yet");
        nft(
                "-f",
                "-",
                "table ip " + table + " {\n flags dormant;\n chain pre {\n  type nat hook prerouting priority dstnat;\n"
                        + "  ip daddr 127.0.0.99 tcp dport 9 dnat to 10.0.0.9:9\n }\n}\n");
        assertEquals(NfTables.DORMANT, NfTables.tableFlags("ip", table));
        assertTrue(nft("list", "table", "ip", table).contains("flags dormant"));
        NfTables.setTableFlags("ip", table, 0);
        assertEquals(0, NfTables.tableFlags("ip", table));
        String woken = nft("list", "table", "ip", table);
        assertFalse(woken.contains("dormant"), woken);
        assertTrue(woken.contains("dnat to 10.0.0.9:9"), "the rules stay: " + woken);
        NfTables.setTableFlags("ip", table, NfTables.DORMANT);
        assertEquals(NfTables.DORMANT, NfTables.tableFlags("ip", table));
        assertEquals(-1, NfTables.tableFlags("inet", table), "another family's table of that name there is not");
        assertTrue(NfTables.deleteTable("ip", table));
        assertEquals(-1, NfTables.tableFlags("ip", table));
        assertThrows(IllegalArgumentException.class, () -> NfTables.tableFlags("ip", ""));
        assertThrows(IllegalArgumentException.class, () -> NfTables.setTableFlags("arp", table, 0));
    }

    @Test
    void theFamilyIsTheTables() throws Exception {
        nft("add", "table", "inet", table);
        assertFalse(NfTables.deleteTable("ip", table), "an ip table of that name there is not");
        assertTrue(tables("inet").contains(table));
        assertTrue(NfTables.deleteTable("inet", table));
        assertFalse(tables("inet").contains(table));
        nft("add", "table", "ip6", table);
        assertTrue(NfTables.deleteTable("ip6", table));
        assertFalse(tables("ip6").contains(table));
    }

    @Test
    void badNamesAndFamiliesAreRefusedBeforeTheKernelSeesThem() {
        assertEquals(
                "unknown nft family 'bridge'",
                assertThrows(IllegalArgumentException.class, () -> NfTables.deleteTable("bridge", table))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> NfTables.deleteTable("ip", ""));
        assertThrows(IllegalArgumentException.class, () -> NfTables.deleteTable("ip", "a\0b"));
        assertThrows(IllegalArgumentException.class, () -> NfTables.deleteTable("ip", "x".repeat(256)));
    }

    @Test
    void theLongestNameIsAnsweredByTheKernel() throws Exception {
        // 255 bytes is what nft holds: the kernel answers (there is no such table), the request is well formed.
        assertFalse(NfTables.deleteTable("ip", "x".repeat(255)));
    }

    @Test
    void withoutCapNetAdminTheKernelsRefusalIsTheError() throws Exception {
        nft("add", "table", "ip", table);
        // A child JVM with no capabilities at all (root's uid, so it still reads the class path).
        Process p = new ProcessBuilder(
                        "setpriv",
                        "--bounding-set=-all",
                        "--inh-caps=-all",
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Probe.class.getName(),
                        table)
                .redirectErrorStream(true)
                .start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(
                "could not delete nft table ip " + table + " (EPERM): Operation not permitted [netlink]", out.strip());
        assertTrue(tables("ip").contains(table), "the table is still there");
    }

    /** Deletes the table its argument names and prints what came of it. */
    static final class Probe {
        public static void main(String[] args) {
            try {
                System.out.println(NfTables.deleteTable("ip", args[0]));
            } catch (LinuxException e) {
                System.out.println(e.getMessage());
            }
        }
    }

    private static String tables(String family) throws Exception {
        return nft("list", "tables", family);
    }

    private static String nft(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("nft"));
        String stdin = null;
        if (args.length == 3 && args[0].equals("-f")) {
            command.addAll(List.of("-f", "-"));
            stdin = args[2];
        } else {
            command.addAll(List.of(args));
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (stdin != null) {
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(command + " failed: " + out);
        }
        return out;
    }
}
