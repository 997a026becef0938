package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter os build} runs as root, so it must run the build script of its own installation and never one
 * that the directory it is started in (or a directory above the installation) offers. The real build is never
 * started: the installations here are copies of this module's classes with a stand-in script.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class OsCommandTest {
    @TempDir
    Path dir;

    private Path cwd;
    private Path pwned;

    /** A working directory whose scripts/build-guest.sh would leave a marker if anyone ran it. */
    @BeforeEach
    void hostileWorkingDirectory() throws IOException {
        cwd = Files.createDirectories(dir.resolve("cwd"));
        pwned = dir.resolve("pwned");
        script(cwd, "touch '" + pwned + "'\n");
    }

    private static Path script(Path root, String body) throws IOException {
        Path s = Files.createDirectories(root.resolve("scripts")).resolve("build-guest.sh");
        Files.writeString(s, "#!/usr/bin/env bash\n" + body);
        return s;
    }

    /** Copies this module's classes to {@code root}/drafter-cli/target/classes, as a checkout builds them. */
    private static Path install(Path root) throws Exception {
        Path classes = Path.of(OsCommand.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        Path copy = root.resolve("drafter-cli/target/classes");
        try (var walk = Files.walk(classes)) {
            for (Path p : walk.toList()) {
                Path to = copy.resolve(classes.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        return copy;
    }

    /** Runs {@code drafter os build --out <dir>/out} from {@code cwd} with the classes at {@code classes}. */
    private String[] osBuild(Path classes) throws Exception {
        Path ours = Path.of(OsCommand.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        List<String> cp = new ArrayList<>();
        boolean replaced = false;
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.isEmpty() && Path.of(e).toAbsolutePath().equals(ours)) {
                cp.add(classes.toString());
                replaced = true;
            } else {
                cp.add(e);
            }
        }
        assertTrue(replaced, "this module's classes are on the test class path: " + cp);
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        String.join(File.pathSeparator, cp),
                        Drafter.class.getName(),
                        "os",
                        "build",
                        "--out",
                        dir.resolve("out").toString())
                .directory(cwd.toFile())
                .redirectErrorStream(true)
                .start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "drafter os build ended");
            return new String[] {Integer.toString(p.exitValue()), out};
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void theInstallationsScriptRunsNotTheWorkingDirectorys() throws Exception {
        Path root = dir.resolve("install");
        Path ran = dir.resolve("installed-script-ran");
        script(root, "echo \"$@\" > '" + ran + "'\n");
        String[] r = osBuild(install(root));
        assertEquals("0", r[0], r[1]);
        assertEquals(dir.resolve("out") + "\n", Files.readString(ran), "the installation's script got --out");
        assertFalse(Files.exists(pwned), "the working directory's script did not run");
    }

    @Test
    void withoutAnInstalledScriptNothingRunsAndTheErrorSaysWhereItLooked() throws Exception {
        Path root = dir.resolve("install");
        String[] r = osBuild(install(root));
        assertEquals("1", r[0], r[1]);
        Path expected = root.resolve(OsCommand.Build.SCRIPT);
        assertEquals(
                "drafter: could not find scripts/build-guest.sh: " + expected + " (of the installation at " + root
                        + ") does not exist or is not a regular file\n",
                r[1]);
        assertFalse(Files.exists(pwned), "the working directory's script did not run");
    }

    @Test
    void aScriptAboveTheInstallationIsNotUsedEither() throws Exception {
        Path root = dir.resolve("install");
        script(dir, "touch '" + pwned + "'\n"); // e.g. /tmp/scripts above a checkout in /tmp/install
        String[] r = osBuild(install(root));
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].startsWith("drafter: could not find scripts/build-guest.sh: " + root.resolve("scripts")), r[1]);
        assertFalse(Files.exists(pwned), "no script from above the installation ran");
    }

    @Test
    void onlyTheCheckoutLayoutIsAccepted() throws IOException {
        Path jar = Files.createFile(dir.resolve("drafter.jar")); // a jar copied to some directory
        script(dir, "exit 0\n");
        String m = assertThrows(IllegalStateException.class, () -> OsCommand.Build.installedScript(jar))
                .getMessage();
        assertEquals(
                "could not find scripts/build-guest.sh: drafter runs from " + jar
                        + ", not from <checkout>/drafter-cli/target; run bin/drafter of a checkout",
                m);
        Path inCheckout = Files.createFile(
                Files.createDirectories(dir.resolve("co/drafter-cli/target")).resolve("drafter.jar"));
        Path s = script(dir.resolve("co"), "exit 0\n");
        assertEquals(s, OsCommand.Build.installedScript(inCheckout));
    }

    @Test
    void aScriptSomeoneElsePlantedIsRefused() throws Exception {
        assumeTrue(
                (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0,
                "needs root: the planted script belongs to another user");
        Path jar = Files.createFile(
                Files.createDirectories(dir.resolve("co/drafter-cli/target")).resolve("drafter.jar"));
        Path s = script(dir.resolve("co"), "exit 0\n");
        Files.setAttribute(s.getParent(), "unix:uid", 65534);
        String m = assertThrows(IllegalStateException.class, () -> OsCommand.Build.installedScript(jar))
                .getMessage();
        assertTrue(m.startsWith("could not use " + s + ": " + s.getParent() + " belongs to "), m);
        assertTrue(m.endsWith(", not to root who installed " + jar), m);
    }
}
