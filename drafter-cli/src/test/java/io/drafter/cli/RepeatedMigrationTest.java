package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.cli.lab.RedisLab;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.net.PortForward;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerOptions;
import io.drafter.peer.testing.PeerOptionsBuilder;
import io.drafter.storage.config.DeviceConfigParser;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.testing.TestGuest;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One Redis VM migrated A → B → A → … 20 times between two peers of this JVM while a client writes through the
 * forward that follows it: every acknowledged write is there at the end, and the JVM's threads, its open files and
 * the FUSE mounts do not grow from one migration to the next. {@code scripts/repeat-migration.sh} does the same with
 * separate processes and prints each migration's downtime.
 */
@Tag("slow")
class RepeatedMigrationTest {
    static final int HOPS = 20;
    static final SharedToken TOKEN = SharedToken.of("repeated-migration-test-token-0123456789");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 30, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aVmMigratedTwentyTimesKeepsEveryWriteAndLeaksNothing() throws Exception {
        try (RedisLab lab = RedisLab.create(dir.resolve("lab"))) {
            int port = RedisLab.freePort();
            QemuVmm vmm = new QemuVmm();
            CompletableFuture<Void> never = new CompletableFuture<>();
            Peer current = Peer.resumeLocal(
                    options(RedisLab.devices(lab.pkg(), dir.resolve("a0")), lab.namespace(0), port), vmm);
            Process load = null;
            List<long[]> usage = new ArrayList<>();
            try {
                RedisLab.redisWhenUp(port, Duration.ofSeconds(60), "write", "100", "key");
                load = RedisLab.load(port, dir.resolve("acks"), dir.resolve("load.log"));
                for (int hop = 1; hop <= HOPS; hop++) {
                    String ns = lab.namespace(hop % 2);
                    Path side = dir.resolve("side" + (hop % 2));
                    Peer from = current;
                    try (MigrationListener listener = MigrationListener.bind(
                            new InetSocketAddress("127.0.0.1", 0),
                            TransportSecurity.plainTcp(),
                            TOKEN,
                            false,
                            MigrationListener.Limits.defaults())) {
                        CompletableFuture<Peer.Outcome> served = CompletableFuture.supplyAsync(
                                () -> {
                                    try {
                                        return from.serve(listener, null, true, never);
                                    } catch (Exception e) {
                                        throw new java.util.concurrent.CompletionException(e);
                                    }
                                },
                                r -> Thread.ofVirtual().start(r));
                        Peer next = Peer.migrateIn(
                                options(RedisLab.devices(side, null), ns, port),
                                vmm,
                                Transport.connect(
                                        listener.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10)),
                                null,
                                never);
                        Peer.Outcome outcome = served.get(5, TimeUnit.MINUTES);
                        assertTrue(outcome instanceof Peer.Outcome.MigratedAway, "hop " + hop + ": " + outcome);
                        from.stop();
                        current = next;
                    }
                    usage.add(new long[] {threads(), openFiles(), mounts()});
                }
            } finally {
                if (load != null) {
                    load.toHandle().destroy();
                    load.waitFor(30, TimeUnit.SECONDS);
                }
            }
            String verify = RedisLab.redisWhenUp(
                    port, Duration.ofSeconds(60), "verify", dir.resolve("acks").toString(), "key", "100");
            current.stop();
            assertTrue(verify.contains(" 0 missing"), verify);
            System.out.println("RepeatedMigrationTest: " + describe(usage));
            // From the third migration on (pools and caches warm), nothing grows.
            long[] early = usage.get(2);
            long[] last = usage.getLast();
            // Threads: the fewest of the last five hops, as a thread that outlives its moment shows in one hop and a
            // leak in all.
            long lastThreads = usage.subList(usage.size() - 5, usage.size()).stream()
                    .mapToLong(u -> u[0])
                    .min()
                    .orElseThrow();
            assertTrue(lastThreads <= early[0] + 4, "threads grew: " + describe(usage));
            assertTrue(last[1] <= early[1] + 4, "open files grew: " + describe(usage));
            assertEquals(1, last[2], "one mount, the running peer's: " + describe(usage));
            assertEquals(List.of(), TestGuest.qemuUnder(dir));
        }
    }

    PeerOptions options(String devices, String ns, int port) {
        return PeerOptionsBuilder.peerOptions(
                        DeviceConfigParser.parse(devices, DeviceConfigParser.Use.PEER), dir.resolve("vms"))
                .netns(ns)
                .token(TOKEN)
                .portForwards(PortForward.parseList(RedisLab.forward(ns, port)))
                .build();
    }

    /**
     * Live platform threads, the fewest of ten looks 100 ms apart: FUSE serving threads, helper-process readers and
     * the like come and go with the load of the moment; a leaked thread stays in every look.
     */
    static long threads() throws InterruptedException {
        long fewest = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            fewest = Math.min(fewest, ManagementFactory.getThreadMXBean().getThreadCount());
            Thread.sleep(100); // the looks are spread in time on purpose (see above)
        }
        return fewest;
    }

    /** Open file descriptors, the fewest of ten looks 20 ms apart: a helper process in flight holds its pipes. */
    static long openFiles() throws Exception {
        long fewest = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            try (var fds = Files.list(Path.of("/proc/self/fd"))) {
                fewest = Math.min(fewest, fds.count());
            }
            Thread.sleep(20);
        }
        return fewest;
    }

    static long mounts() throws Exception {
        return Files.readAllLines(Path.of("/proc/mounts")).stream()
                .filter(l -> l.contains(" fuse.drafter "))
                .count();
    }

    static String describe(List<long[]> usage) {
        StringBuilder b = new StringBuilder("hop threads/files/mounts:");
        for (int i = 0; i < usage.size(); i++) {
            long[] u = usage.get(i);
            b.append(' ')
                    .append(i + 1)
                    .append('=')
                    .append(u[0])
                    .append('/')
                    .append(u[1])
                    .append('/')
                    .append(u[2]);
        }
        return b.toString();
    }
}
