package io.drafter.expose.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs other processes (python3, dd, losetup) against a mount, as the kernel's real clients. */
final class Processes {
    private Processes() {}

    record Result(int exit, String output) {}

    /** Whether {@code program} is on the PATH. */
    static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }

    static Result run(long timeoutSeconds, String... command) throws IOException, InterruptedException {
        Process p = start(command);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new IOException("timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /** Runs a python3 program with {@code args} as {@code sys.argv[1:]}. */
    static Result python(String program, Object... args) throws IOException, InterruptedException {
        return run(60, pythonCommand(program, args));
    }

    static String[] pythonCommand(String program, Object... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", "-c", program));
        for (Object a : args) {
            cmd.add(String.valueOf(a));
        }
        return cmd.toArray(String[]::new);
    }

    static Process start(String... command) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }
}
