package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.cli.lab.DrafterProcess;
import io.drafter.cli.lab.RedisLab;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.testing.FrameRelay;
import io.drafter.migration.transport.SharedToken;
import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter peer} as separate processes around a Redis VM, stopped by signals, attacked at its listener and killed
 * with SIGKILL at each step of a migration. After each case: the VM runs exactly once (or, where the process that ran
 * it was killed, nowhere and never twice), every acknowledged write is where the VM is, and no QEMU, mount or partial
 * file is left once a later peer (or {@code drafter peer --clean}) has run.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PeerProcessTest {
    static final Duration START = Duration.ofMinutes(2);
    static final Duration MIGRATION = Duration.ofMinutes(3);
    static final int KEYS = 50;

    @TempDir
    static Path root;

    static RedisLab lab;
    static Path token;
    static Path vms;

    Path dir;
    final List<DrafterProcess> processes = new ArrayList<>();
    final List<Process> clients = new ArrayList<>();

    @BeforeAll
    static void lab() throws Exception {
        lab = RedisLab.create(root.resolve("lab"));
        token = PeerCommandTest.privateTokenFile(root.resolve("token"), "peer-process-test-token-0123456789abcdef\n");
        vms = root.resolve("vms");
    }

    @AfterAll
    static void closeLab() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @org.junit.jupiter.api.BeforeEach
    void caseDir(TestInfo info) throws IOException {
        dir = Files.createDirectories(
                root.resolve(info.getTestMethod().orElseThrow().getName()));
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process c : clients) {
            c.destroyForcibly();
        }
        for (DrafterProcess p : processes) {
            p.close();
        }
        RedisLab.drafterQuietly("peer", "--clean", "--chroot-base-dir", vms.toString());
    }

    // ------------------------------------------------------------------ helpers

    /** One migration's cast: a source A with Redis behind {@code redisPort}, listening on {@code listenPort}. */
    final class Cast {
        final int redisPort = RedisLab.freePort();
        final int listenPort = RedisLab.freePort();
        final Path aCow = dir.resolve("a");
        final Path acks = dir.resolve("acks");
        Process load;

        Cast() throws IOException {}

        DrafterProcess source(String name, String laddr, String... holds) throws Exception {
            return peer(
                    name,
                    List.of(
                            "--raddr",
                            "",
                            "--laddr",
                            laddr,
                            "--netns",
                            lab.namespace(0),
                            "--port-forwards",
                            RedisLab.forward(lab.namespace(0), redisPort),
                            "--devices",
                            RedisLab.devices(lab.pkg(), aCow)),
                    holds);
        }

        DrafterProcess startA(String... holds) throws Exception {
            DrafterProcess a = source("A", "127.0.0.1:" + listenPort, holds);
            a.await("Listening for connections", START);
            RedisLab.redisWhenUp(redisPort, Duration.ofSeconds(60), "write", Integer.toString(KEYS), "key");
            return a;
        }

        void startLoad() throws IOException {
            load = RedisLab.load(redisPort, acks, dir.resolve("load.log"));
            clients.add(load);
        }

        String stopLoad() throws Exception {
            load.toHandle().destroy();
            load.waitFor(30, TimeUnit.SECONDS);
            return Files.readString(dir.resolve("load.log"));
        }

        DrafterProcess destination(String name, Path files, int from, String... holds) throws Exception {
            return peer(
                    name,
                    List.of(
                            "--raddr",
                            "127.0.0.1:" + from,
                            "--laddr",
                            "",
                            "--netns",
                            lab.namespace(1),
                            "--port-forwards",
                            RedisLab.forward(lab.namespace(1), redisPort),
                            "--devices",
                            RedisLab.devices(files, null)),
                    holds);
        }

        /** Every acknowledged write (and the keys written first) can be read through the forward. */
        void assertNoWriteLost() throws Exception {
            String v = RedisLab.redisWhenUp(
                    redisPort, Duration.ofSeconds(60), "verify", acks.toString(), "key", Integer.toString(KEYS));
            assertTrue(v.contains(" 0 missing"), v);
        }

        /** Resumes A's devices again (as the user would after a failure) and checks that no write was lost. */
        void resumeAAndVerify() throws Exception {
            DrafterProcess a2 = source("A again", "");
            a2.await("Running; press Ctrl-C", START);
            assertNoWriteLost();
            a2.signal("TERM");
            assertEquals(0, a2.waitExit(Duration.ofMinutes(1)), a2.tail());
        }
    }

    DrafterProcess peer(String name, List<String> args, String... holds) throws IOException {
        List<String> all = new ArrayList<>(List.of(
                "peer",
                "--token-file",
                token.toString(),
                "--enable-output=false",
                "--chroot-base-dir",
                vms.toString(),
                "--resume-timeout",
                "1m"));
        all.addAll(args);
        DrafterProcess p = DrafterProcess.start(name, dir.resolve(name.replace(' ', '-') + ".log"), all, holds);
        processes.add(p);
        return p;
    }

    /** No QEMU, no mount and no instance directory of this test's peers are left (QEMU may take a moment to die). */
    void assertNothingLeft() throws Exception {
        Await.until(
                Duration.ofSeconds(20),
                "no QEMU left under " + vms,
                () -> TestGuest.qemuUnder(vms).isEmpty(),
                () -> "still " + TestGuest.qemuUnder(vms));
        assertEquals(List.of(), TestGuest.qemuUnder(vms), "no QEMU left");
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(vms.toString()), "no mount left");
        Path qemu = vms.resolve("qemu");
        if (Files.isDirectory(qemu)) {
            try (var l = Files.list(qemu)) {
                assertEquals(List.of(), l.toList(), "no instance directory left");
            }
        }
    }

    static void assertEmptyOrGone(Path d) throws IOException {
        if (Files.exists(d)) {
            try (var w = Files.walk(d)) {
                assertEquals(List.of(), w.filter(Files::isRegularFile).toList(), "no partial file left in " + d);
            }
        }
    }

    // ------------------------------------------------------------------ signals

    /**
     * Drafter's {@code susres}: resume, signal, resume, … on the same devices, alternating SIGTERM to the peer and
     * SIGINT to its whole process group (a Ctrl-C: QEMU, in a session of its own, does not get it), both copy-on-write
     * over the package and with writes going to the package itself: each stop exits 0 naming where the VM is, and each
     * resume continues from there (a counter in Redis keeps climbing, the key written before the stop is there).
     */
    @Test
    void suspendsOnEverySignalAndResumesWhereItStopped() throws Exception {
        Path copy = lab.copyPackage(dir.resolve("package-copy"));
        for (Path cow : new Path[] {dir.resolve("cow"), null}) {
            int port = RedisLab.freePort();
            Path base = cow == null ? copy : lab.pkg();
            for (int cycle = 1; cycle <= 10; cycle++) {
                String mode = cow == null ? "base-only" : "copy-on-write";
                DrafterProcess p = peer(
                        mode + " " + cycle,
                        List.of(
                                "--raddr",
                                "",
                                "--laddr",
                                "",
                                "--netns",
                                lab.namespace(0),
                                "--port-forwards",
                                RedisLab.forward(lab.namespace(0), port),
                                "--devices",
                                RedisLab.devices(base, cow)));
                p.await("Running; press Ctrl-C", START);
                // INCR once, after a PING answered: a retried INCR whose answer was only late would count twice.
                RedisLab.redisWhenUp(port, Duration.ofSeconds(60), "cmd", "PING");
                String counter = RedisLab.redis(port, "cmd", "INCR", "cycles");
                assertEquals(Integer.toString(cycle), counter, mode + " cycle " + cycle + ": the counter climbs");
                if (cycle > 1) {
                    assertEquals(
                            "written-in-" + (cycle - 1),
                            RedisLab.redis(port, "cmd", "GET", "before-stop-" + (cycle - 1)),
                            mode + " cycle " + cycle);
                }
                RedisLab.redis(port, "cmd", "SET", "before-stop-" + cycle, "written-in-" + cycle);
                String signal = cycle % 2 == 1 ? "TERM" : "INT";
                if (signal.equals("INT")) {
                    p.signalGroup(signal); // Ctrl-C at a terminal: the whole foreground group gets it
                } else {
                    p.signal(signal);
                }
                if (cycle == 1) {
                    // A second signal while it suspends does not cut the suspend short: it is told what still runs.
                    p.await("SIGTERM received; suspending the VM into its devices", Duration.ofSeconds(30));
                    p.signal("TERM");
                }
                assertEquals(0, p.waitExit(Duration.ofMinutes(2)), p.tail());
                assertTrue(
                        p.output()
                                .contains("drafter peer: stopped by SIG" + signal + "; the VM is suspended in its"
                                        + " devices"),
                        p.tail());
                // (The second signal of cycle 1 may come after the suspend finished; the next cycle's resume is what
                // shows that it cut nothing short.)
            }
        }
        assertNothingLeft();
    }

    /**
     * {@code drafter runner} (Drafter's runner: no migration): resumes a package from its files, and on a signal
     * suspends the VM back into them, so the next run continues (a Redis counter climbs); with {@code
     * --experimental-map-private} the package's state and memory stay as they were and the suspended VM goes to the
     * output files, from which it resumes in turn.
     */
    @Test
    void theRunnerSuspendsIntoItsFilesOrIntoPrivateOutputs() throws Exception {
        Path pkg = lab.copyPackage(dir.resolve("package"));
        String ns = lab.namespace(0);
        String plain = runnerDevices(pkg, pkg.resolve("state.bin"), pkg.resolve("memory.bin"));
        for (int run = 1; run <= 2; run++) {
            DrafterProcess r = runner("runner " + run, plain);
            r.await("Running; press Ctrl-C", START);
            assertEquals(Integer.toString(run), redisInNamespace(ns, "INCR", "runs"));
            r.signal(run == 1 ? "TERM" : "INT");
            assertEquals(0, r.waitExit(Duration.ofMinutes(2)), r.tail());
            assertTrue(r.output().contains("drafter runner: stopped by SIG"), r.tail());
        }
        byte[] memoryBefore = Files.readAllBytes(pkg.resolve("memory.bin"));
        Path outState = dir.resolve("out-state.bin");
        Path outMemory = dir.resolve("out-memory.bin");
        DrafterProcess p = runner(
                "runner map-private",
                plain,
                "--experimental-map-private",
                "--experimental-map-private-state-output",
                outState.toString(),
                "--experimental-map-private-memory-output",
                outMemory.toString());
        p.await("Running; press Ctrl-C", START);
        assertEquals("3", redisInNamespace(ns, "INCR", "runs"));
        p.signal("TERM");
        assertEquals(0, p.waitExit(Duration.ofMinutes(2)), p.tail());
        assertTrue(
                java.util.Arrays.equals(memoryBefore, Files.readAllBytes(pkg.resolve("memory.bin"))),
                "map-private leaves the package's memory as it was");
        DrafterProcess again = runner("runner from outputs", runnerDevices(pkg, outState, outMemory));
        again.await("Running; press Ctrl-C", START);
        assertEquals("4", redisInNamespace(ns, "INCR", "runs"), "it continues from the private outputs");
        again.signal("TERM");
        assertEquals(0, again.waitExit(Duration.ofMinutes(2)), again.tail());
        assertNothingLeft();
    }

    DrafterProcess runner(String name, String devices, String... more) throws IOException {
        List<String> args = new ArrayList<>(List.of(
                "runner",
                "--netns",
                lab.namespace(0),
                "--enable-output=false",
                "--chroot-base-dir",
                vms.toString(),
                "--devices",
                devices));
        args.addAll(List.of(more));
        DrafterProcess p = DrafterProcess.start(name, dir.resolve(name.replace(' ', '-') + ".log"), args);
        processes.add(p);
        return p;
    }

    /** Drafter's runner devices ({name, path}) for a package, with the state and memory files given. */
    static String runnerDevices(Path pkg, Path state, Path memory) {
        return "[{\"name\":\"state\",\"path\":\"" + state + "\"},"
                + "{\"name\":\"memory\",\"path\":\"" + memory + "\"},"
                + "{\"name\":\"kernel\",\"path\":\"" + pkg.resolve("vmlinux") + "\"},"
                + "{\"name\":\"initrd\",\"path\":\"" + pkg.resolve("initramfs.img") + "\"},"
                + "{\"name\":\"disk\",\"path\":\"" + pkg.resolve("rootfs.ext4") + "\"},"
                + "{\"name\":\"config\",\"path\":\"" + pkg.resolve("config.json") + "\"},"
                + "{\"name\":\"oci\",\"path\":\"" + pkg.resolve("oci.ext4") + "\"}]";
    }

    /** {@code redis-cli} inside namespace {@code ns} against the guest (172.16.0.2), retried until Redis answers. */
    static String redisInNamespace(String ns, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "redis-cli", "-h", "172.16.0.2"));
        cmd.addAll(List.of(args));
        AtomicReference<String> last = new AtomicReference<>();
        return Await.value(
                Duration.ofSeconds(60),
                Duration.ofMillis(300),
                "redis-cli " + String.join(" ", args) + " in " + ns + " to answer",
                () -> {
                    Process p =
                            new ProcessBuilder(cmd).redirectErrorStream(true).start();
                    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
                            .strip();
                    p.waitFor(30, TimeUnit.SECONDS);
                    last.set(out);
                    return p.exitValue() == 0 && !out.startsWith("Could not connect") && !out.isEmpty() ? out : null;
                },
                () -> "last answer: " + last.get());
    }

    // ------------------------------------------------------------------ the listener

    /**
     * Garbage, a wrong token, a truncated handshake, a huge frame length and idle connections at the source's
     * {@code --laddr}: each is refused with one log line, the VM is never paused and keeps its forward; then a
     * legitimate migration succeeds with every acknowledged write.
     */
    @Test
    void strayConnectionsChangeNothingAndALegitimateMigrationStillWorks() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA();
        c.startLoad();
        InetSocketAddress laddr = new InetSocketAddress("127.0.0.1", c.listenPort);
        byte[] random = new byte[1 << 20];
        new Random(15).nextBytes(random);
        send(laddr, random);
        send(laddr, new byte[] {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01});
        send(laddr, new byte[] {0, 0, 0, 45, 0x02, 0x44, 0x52}); // a HELLO_REPLY cut short
        // a wrong token: a real peer with another token
        Path wrong =
                PeerCommandTest.privateTokenFile(dir.resolve("wrong-token"), "not-the-token-of-this-migration-000\n");
        DrafterProcess intruder = DrafterProcess.start(
                "intruder",
                dir.resolve("intruder.log"),
                List.of(
                        "peer",
                        "--token-file",
                        wrong.toString(),
                        "--raddr",
                        "127.0.0.1:" + c.listenPort,
                        "--laddr",
                        "",
                        "--netns",
                        lab.namespace(1),
                        "--enable-output=false",
                        "--chroot-base-dir",
                        vms.toString(),
                        "--devices",
                        RedisLab.devices(dir.resolve("intruder"), null)));
        processes.add(intruder);
        assertNotEquals(0, intruder.waitExit(Duration.ofMinutes(1)));
        assertEmptyOrGone(dir.resolve("intruder"));
        List<Socket> idle = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            idle.add(new Socket(laddr.getAddress(), laddr.getPort()));
        }
        Thread.sleep(500); // a window for the attacks to do harm: none may pause the VM
        RedisLab.redis(c.redisPort, "cmd", "SET", "after-attacks", "yes");
        assertFalse(a.output().contains("SUSPENDING"), "an attack paused the VM:\n" + a.tail());
        assertTrue(a.isAlive(), a.tail());

        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort);
        b.await("Resumed VM", MIGRATION);
        assertEquals(0, a.waitExit(MIGRATION), a.tail());
        assertTrue(a.output().contains("Migration completed"), a.tail());
        assertTrue(
                java.util.regex.Pattern.compile("Migration completed: .*, the VM paused \\d+ ms here until the grant")
                        .matcher(a.output())
                        .find(),
                a.tail());
        assertTrue(a.output().contains("devices written back during pre-copy in"), a.tail());
        // B's QEMU shares B's mount namespace, so A's mounts ended when A unmounted them (none was left to abort).
        assertFalse(a.output().contains("aborted FUSE connection"), a.tail());
        c.stopLoad();
        c.assertNoWriteLost();
        assertEquals("yes", RedisLab.redis(c.redisPort, "cmd", "GET", "after-attacks"));
        for (Socket s : idle) {
            s.close();
        }
        long refused = a.output()
                .lines()
                .filter(l -> l.contains("refused migration connection"))
                .count();
        assertTrue(refused >= 4, "each attack is one log line:\n" + a.tail());
        b.signal("TERM");
        assertEquals(0, b.waitExit(Duration.ofMinutes(1)), b.tail());
        assertNothingLeft();
    }

    static void send(InetSocketAddress to, byte[] bytes) throws IOException {
        try (Socket s = new Socket(to.getAddress(), to.getPort())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            try {
                out.write(bytes);
                out.flush();
                s.shutdownOutput();
                s.getInputStream().readAllBytes(); // until the source closes it
            } catch (IOException closedByTheSource) {
                // refused mid-way: what we want
            }
        }
    }

    // ------------------------------------------------------------------ killed peers

    @Test
    void sourceKilledDuringPreCopy() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA("source-pre-copy");
        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort);
        a.await("drafter-test: holding at source-pre-copy", MIGRATION);
        a.kill();
        assertNotEquals(0, b.waitExit(MIGRATION), b.tail());
        assertTrue(b.output().contains("the VM was not started here"), b.tail());
        assertEmptyOrGone(dir.resolve("b"));
        // The VM died with its peer, as with a host that loses power: no copy runs anywhere, and none is started.
        RedisLab.drafterQuietly("peer", "--clean", "--chroot-base-dir", vms.toString());
        assertNothingLeft();
    }

    @Test
    void sourceKilledAfterSuspendBeforeAuthority() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA("source-suspended");
        c.startLoad();
        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort);
        a.await("drafter-test: holding at source-suspended", MIGRATION);
        a.kill();
        c.stopLoad();
        assertNotEquals(0, b.waitExit(MIGRATION), b.tail());
        assertTrue(b.output().contains("the VM was not started here"), b.tail());
        assertEmptyOrGone(dir.resolve("b"));
        // The suspended VM is in A's devices: resuming them loses nothing.
        c.resumeAAndVerify();
        assertNothingLeft();
    }

    @Test
    void sourceKilledAfterTheGrant() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA();
        c.startLoad();
        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort);
        b.await("Resumed VM", MIGRATION);
        a.kill();
        Thread.sleep(1000); // the load runs on at B without A
        c.stopLoad();
        c.assertNoWriteLost(); // B has every block from the grant on: it needs nothing more from A
        assertTrue(b.isAlive(), b.tail());
        b.signal("INT");
        assertEquals(0, b.waitExit(Duration.ofMinutes(1)), b.tail());
        assertEquals(0, RedisLab.drafterQuietly("peer", "--clean", "--chroot-base-dir", vms.toString()));
        assertNothingLeft();
    }

    @Test
    void destinationKilledDuringPreCopy() throws Exception {
        destinationKilledBeforeTheGrant("destination-pre-copy");
    }

    @Test
    void destinationKilledAfterAuthorityBeforeTakeover() throws Exception {
        destinationKilledBeforeTheGrant("destination-prepared");
    }

    /**
     * B is killed at {@code hold}, before the grant: A's VM runs on (resumed by A itself if it was suspended) and A
     * listens again; the next destination removes what B left (its partial files) and takes the VM with every write.
     */
    private void destinationKilledBeforeTheGrant(String hold) throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA();
        c.startLoad();
        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort, hold);
        b.await("drafter-test: holding at " + hold, MIGRATION);
        b.kill();
        a.await("the VM runs here again", MIGRATION);
        assertTrue(a.isAlive(), a.tail());
        DrafterProcess b2 = c.destination("B2", dir.resolve("b2"), c.listenPort);
        b2.await("Resumed VM", MIGRATION);
        assertEmptyOrGone(dir.resolve("b"));
        assertEquals(0, a.waitExit(MIGRATION), a.tail());
        c.stopLoad();
        c.assertNoWriteLost();
        b2.signal("TERM");
        assertEquals(0, b2.waitExit(Duration.ofMinutes(1)), b2.tail());
        assertNothingLeft();
    }

    @Test
    void destinationKilledAfterItTookOver() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA();
        // Writes stop before the migration: those B acknowledged after its takeover die with B, as on a host that
        // loses power; every write A acknowledged must survive in A's paused copy.
        c.startLoad();
        Thread.sleep(1000); // a second of acknowledged writes before the migration
        c.stopLoad();
        DrafterProcess b = c.destination("B", dir.resolve("b"), c.listenPort, "destination-running");
        b.await("drafter-test: holding at destination-running", MIGRATION);
        b.kill();
        assertEquals(3, a.waitExit(MIGRATION), a.tail());
        assertTrue(a.output().contains("is uncertain"), a.tail());
        assertFalse(a.output().contains("the VM runs here again"), "A never resumes on its own after the grant");
        // B is dead, so the operator resumes A's copy, which has every write A acknowledged.
        c.resumeAAndVerify();
        assertEquals(0, RedisLab.drafterQuietly("peer", "--clean", "--chroot-base-dir", vms.toString()));
        assertNothingLeft();
    }

    /**
     * The grant is lost on the way (a relay drops the connection on it): A stops with the hand-over uncertain and its
     * state saved, B never starts the VM; resuming A's devices, as A's message says, loses nothing.
     */
    @Test
    void aLostGrantLeavesBothStoppedWithTheStateIntact() throws Exception {
        Cast c = new Cast();
        DrafterProcess a = c.startA();
        c.startLoad();
        // The relay calls the side that dials it "source": here that is B, so A's frames travel TO_SOURCE. Frames are
        // sealed with the token after the handshake: the relay needs it to see the GRANT.
        try (FrameRelay relay = new FrameRelay(
                new InetSocketAddress("127.0.0.1", c.listenPort),
                FrameRelay.Rule.on(FrameRelay.Way.TO_SOURCE, f -> f instanceof Frame.Grant, 1, FrameRelay.Action.DROP),
                SharedToken.fromFile(token))) {
            DrafterProcess b =
                    c.destination("B", dir.resolve("b"), relay.address().getPort());
            assertEquals(3, a.waitExit(MIGRATION), a.tail());
            assertTrue(a.output().contains("is uncertain"), a.tail());
            assertNotEquals(0, b.waitExit(MIGRATION), b.tail());
            assertTrue(b.output().contains("the VM was not started here"), b.tail());
            assertTrue(relay.fired());
        }
        c.stopLoad();
        assertEmptyOrGone(dir.resolve("b"));
        c.resumeAAndVerify();
        assertNothingLeft();
    }

    /** A destination whose disk cannot hold the devices refuses before any data moves; the source keeps running. */
    @Test
    void aDestinationWithoutSpaceRefusesAndTheSourceRunsOn() throws Exception {
        Cast c = new Cast();
        Path small = Files.createDirectories(dir.resolve("small"));
        RedisLab.mountTmpfs(small, "16m");
        try {
            DrafterProcess a = c.startA();
            DrafterProcess b = c.destination("B", small.resolve("b"), c.listenPort);
            assertEquals(1, b.waitExit(MIGRATION), b.tail());
            assertTrue(b.output().contains("could not accept the migration"), b.tail());
            assertTrue(b.output().contains("MiB free"), b.tail());
            a.await("the VM runs here again", MIGRATION);
            assertFalse(a.output().contains("SUSPENDING"), a.tail());
            assertEmptyOrGone(small.resolve("b"));
            RedisLab.redis(c.redisPort, "cmd", "SET", "still", "here");
            a.signal("TERM");
            assertEquals(0, a.waitExit(Duration.ofMinutes(1)), a.tail());
        } finally {
            RedisLab.unmount(small);
        }
        assertNothingLeft();
    }
}
