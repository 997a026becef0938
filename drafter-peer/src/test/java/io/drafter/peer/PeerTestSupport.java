package io.drafter.peer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The guest blueprint for peer tests (built once by scripts/build-guest.sh, cached) and process checks. */
final class PeerTestSupport {
    private static Path built;
    private static String failure;

    private PeerTestSupport() {}

    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("scripts/build-guest.sh"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException(
                    "could not find scripts/build-guest.sh above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** The blueprint directory; skips the calling test when QEMU is missing or the guest cannot be built. */
    static synchronized Path blueprint() throws InterruptedException {
        assumeTrue(onPath("qemu-system-x86_64"), "qemu-system-x86_64 is not installed (scripts/install-deps.sh)");
        if (built == null && failure == null) {
            Path out = repoRoot().resolve("out/blueprint");
            try {
                Process p = new ProcessBuilder(
                                "bash",
                                repoRoot().resolve("scripts/build-guest.sh").toString(),
                                out.toString())
                        .redirectErrorStream(true)
                        .start();
                String log = new String(p.getInputStream().readAllBytes());
                if (p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    built = out;
                } else {
                    failure = log.strip().lines().reduce((a, b) -> b).orElse("no output");
                }
            } catch (IOException e) {
                failure = e.toString();
            }
        }
        assumeTrue(built != null, "guest blueprint could not be built: " + failure);
        return built;
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    /** PIDs of live QEMU processes whose command line mentions {@code dir}. */
    static List<Long> qemuUnder(Path dir) {
        String d = dir.toString();
        return ProcessHandle.allProcesses()
                .filter(ph -> ph.info().command().orElse("").endsWith("qemu-system-x86_64"))
                .filter(ph -> String.join(" ", ph.info().arguments().orElse(new String[0]))
                        .contains(d))
                .map(ProcessHandle::pid)
                .toList();
    }
}
