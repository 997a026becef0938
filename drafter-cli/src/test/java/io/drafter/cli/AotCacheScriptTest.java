package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/drafter} hands the JVM the AOT cache of {@code scripts/train-aot.sh} only when the JVM would take it
 * (the jar it was trained with, by time and size; this JDK) and only when no one but the jar's owner could have
 * written it, since the JVM maps it as code; {@code aot_keep} keeps it usable across a rebuild of the same bytes. Each
 * case runs the real scripts and a real JDK 25 cache, in an installation of its own: {@code bin/drafter}, {@code
 * scripts/env.sh} and {@code scripts/aot.sh} copied from this checkout, and a small jar that prints the JVM's options.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class AotCacheScriptTest {
    /** As {@code bin/drafter} runs the JVM: a cache records this setting, and a JVM run without it refuses the cache. */
    private static final String NATIVE = "--enable-native-access=ALL-UNNAMED";

    @TempDir
    Path root;

    private Path jar;
    private Path cache;

    /** The installation, and a cache trained with its jar and stamped as {@code train-aot.sh} does. */
    @BeforeEach
    void installationWithATrainedCache() throws Exception {
        Path repo = TestGuest.repoRoot();
        for (String f : List.of("bin/drafter", "scripts/env.sh", "scripts/aot.sh")) {
            Path to = Files.createDirectories(root.resolve(f).getParent())
                    .resolve(Path.of(f).getFileName());
            Files.copy(repo.resolve(f), to, StandardCopyOption.COPY_ATTRIBUTES);
        }
        Path target = Files.createDirectories(root.resolve("drafter-cli/target"));
        jar = target.resolve("drafter.jar");
        cache = target.resolve("drafter.aot");
        buildJar(jar, "options");
        trainAndStamp(NATIVE);
    }

    @Test
    void theCacheTrainedWithTheJarIsUsedAndTheJvmTakesIt() throws Exception {
        assertEquals(0, aot("aot_usable").rc);
        Result whole = aot("aot_whole");
        assertEquals(0, whole.rc, whole.out + whole.err);
        Result r = drafter(Map.of());
        assertEquals(0, r.rc, r.err);
        assertTrue(
                r.out.contains("-XX:AOTCache=" + root.toRealPath().resolve("drafter-cli/target/drafter.aot")), r.out);
        assertEquals("", r.err);
        assertEquals(0, strict().rc, "the JVM refused a cache that aot_usable accepts: " + strict().err);
    }

    @Test
    void drafterAotZeroRunsWithoutTheCache() throws Exception {
        Result r = drafter(Map.of("DRAFTER_AOT", "0"));
        assertEquals(0, r.rc, r.err);
        assertFalse(r.out.contains("AOTCache"), r.out);
    }

    @Test
    void aRebuildOfTheSameBytesGetsItsTimeBackAndTheCacheStaysUsable() throws Exception {
        rewriteWithTheSameBytes();
        assertNotEquals(0, aot("aot_usable").rc, "a jar with a new time must not be given the cache");
        assertEquals(0, aot("aot_keep").rc);
        assertEquals(0, aot("aot_usable").rc);
        assertEquals(0, strict().rc, "the JVM refused the cache after aot_keep: " + strict().err);
    }

    @Test
    void binDrafterGivesARebuildOfTheSameBytesItsTimeBackAsTheJarsOwner() throws Exception {
        rewriteWithTheSameBytes();
        Result r = drafter(Map.of());
        assertEquals(0, r.rc, r.err);
        assertTrue(r.out.contains("-XX:AOTCache="), r.out);
        assertEquals("", r.err);
        assertEquals(0, aot("aot_usable").rc);
    }

    @Test
    void aStaleCacheIsLeftOutQuietly() throws Exception {
        rewriteWithTheSameBytes();
        Result r = drafter(Map.of("DRAFTER_AOT", "0"));
        assertFalse(r.out.contains("AOTCache"), r.out);
        assertNotEquals(0, aot("aot_usable").rc, "DRAFTER_AOT=0 touches nothing either");
        buildJar(jar, "other bytes, same main class");
        r = drafter(Map.of());
        assertEquals(0, r.rc, r.err);
        assertFalse(r.out.contains("AOTCache"), r.out);
        assertEquals("", r.err, "a stale cache is left out quietly, no [error][aot] line");
    }

    @Test
    void aRebuildWithOtherBytesMakesTheCacheStale() throws Exception {
        FileTime trained = Files.getLastModifiedTime(jar);
        buildJar(jar, "other bytes, same main class");
        assertEquals(0, aot("aot_keep").rc);
        assertNotEquals(trained, Files.getLastModifiedTime(jar), "aot_keep must not touch a jar with other bytes");
        assertNotEquals(0, aot("aot_usable").rc);
        assertFalse(drafter(Map.of()).out.contains("AOTCache"));
    }

    @Test
    void aCacheOthersCouldHaveWrittenIsNotUsed() throws Exception {
        for (String mode : List.of("rw-rw-r--", "rw-r--rw-")) {
            Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString(mode));
            assertNotEquals(0, aot("aot_usable").rc, mode);
            assertFalse(drafter(Map.of()).out.contains("AOTCache"), mode);
        }
        Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(0, aot("aot_usable").rc);
        assumeTrue("root".equals(System.getProperty("user.name")), "changing a file's owner needs root");
        assertEquals(0, run(List.of("chown", "nobody", cache.toString())).rc);
        assertNotEquals(0, aot("aot_usable").rc, "a cache another user owns must not be used");
    }

    @Test
    void aCacheOfAnotherJdkOrWithoutAStampIsNotUsed() throws Exception {
        Path stamp = cache.resolveSibling("drafter.aot.stamp");
        String good = Files.readString(stamp);
        String[] fields = good.strip().split(" "); // SHA256 MTIME SIZE JDK CACHE_MTIME CACHE_SIZE
        assertEquals(6, fields.length, good);
        fields[3] = "25.0.0+1-LTS";
        Files.writeString(stamp, String.join(" ", fields) + "\n");
        assertNotEquals(0, aot("aot_usable").rc);
        Files.delete(stamp);
        assertNotEquals(0, aot("aot_usable").rc);
        assertEquals(0, aot("aot_keep").rc, "no stamp: aot_keep does nothing");
        assertFalse(drafter(Map.of()).out.contains("AOTCache"));
    }

    @Test
    void aCacheWrittenSinceItsTrainingIsNotUsed() throws Exception {
        try (var ch = java.nio.channels.FileChannel.open(cache, java.nio.file.StandardOpenOption.WRITE)) {
            byte[] junk = new byte[4096];
            java.util.Arrays.fill(junk, (byte) 0x5a);
            ch.write(java.nio.ByteBuffer.wrap(junk), Files.size(cache) / 2); // the JVM would crash on it
        }
        assertNotEquals(0, aot("aot_usable").rc);
        Result r = drafter(Map.of());
        assertEquals(0, r.rc, r.err);
        assertFalse(r.out.contains("AOTCache"), r.out);
        assertEquals("", r.err);
    }

    @Test
    void theJvmsWordsAboutARefusedCacheGoToStderr() throws Exception {
        // A cache the stamp cannot tell from the trained one, but that the JVM refuses: another JVM option recorded.
        Path stamp = cache.resolveSibling("drafter.aot.stamp");
        String good = Files.readString(stamp);
        Files.delete(cache);
        trainAndStamp();
        Result whole = aot("aot_whole");
        assertNotEquals(0, whole.rc, "train-aot.sh must not keep a cache the JVM refuses: " + whole.out);
        assertTrue(whole.out.contains("[aot]"), "what the JVM said: " + whole.out);
        Result r = drafter(Map.of());
        assertEquals(0, r.rc, r.err);
        assertTrue(r.out.contains("-XX:AOTCache="), r.out);
        assertTrue(r.err.contains("[aot]"), "the JVM says on stderr that it did not take the cache: " + r.err);
        assertFalse(r.out.contains("[aot]"), "a command's output stays its own: " + r.out);
        assertNotEquals(good, Files.readString(stamp));
    }

    /** Trains {@link #cache} with the jar and JVM {@code options} and stamps it, as {@code train-aot.sh} does. */
    private void trainAndStamp(String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(List.of(options));
        cmd.addAll(List.of("-XX:AOTCacheOutput=" + cache, "-Xlog:aot*=off", "-jar", jar.toString()));
        Result training = run(cmd);
        assertEquals(0, training.rc, training.err);
        assertTrue(Files.size(cache) > 0, "the training run wrote no cache");
        assertEquals(0, aot("aot_stamp").rc);
    }

    /** Writes the same bytes into a new file put in the jar's place: a new time, as {@code mvn install} leaves it. */
    private void rewriteWithTheSameBytes() throws IOException {
        Path copy = jar.resolveSibling("copy.jar");
        Files.copy(jar, copy);
        Files.move(copy, jar, StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(
                jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 5_000));
    }

    /** A jar whose main class prints the JVM's options; {@code salt} goes into a resource, changing the bytes. */
    private static void buildJar(Path jar, String salt) throws IOException {
        Path src = Files.createTempDirectory(jar.getParent(), "src");
        Files.writeString(src.resolve("Options.java"), """
                public class Options {
                    public static void main(String[] args) {
                        System.out.println(String.join(" ",
                                java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()));
                    }
                }
                """);
        Files.writeString(src.resolve("salt.txt"), salt);
        tool("javac", "-d", src.toString(), src.resolve("Options.java").toString());
        Files.deleteIfExists(jar);
        tool(
                "jar",
                "--create",
                "--file",
                jar.toString(),
                "--main-class",
                "Options",
                "-C",
                src.toString(),
                "Options.class",
                "-C",
                src.toString(),
                "salt.txt");
    }

    private static void tool(String name, String... args) {
        StringWriter err = new StringWriter();
        int rc = ToolProvider.findFirst(name).orElseThrow().run(new PrintWriter(err), new PrintWriter(err), args);
        assertEquals(0, rc, name + ": " + err);
    }

    /** {@code java -XX:AOTMode=on}: fails unless the JVM takes the cache. */
    private Result strict() throws Exception {
        return run(List.of(java(), NATIVE, "-XX:AOTMode=on", "-XX:AOTCache=" + cache, "-jar", jar.toString()));
    }

    private Result aot(String function) throws Exception {
        return run(List.of(
                "bash",
                "-c",
                ". scripts/env.sh && . scripts/aot.sh && " + function + " \"$0\" \"$1\"",
                jar.toString(),
                cache.toString()));
    }

    private Result drafter(Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bin/drafter").toString()).directory(root.toFile());
        pb.environment().remove("DRAFTER_AOT");
        pb.environment().remove("DRAFTER_JAVA_OPTS");
        pb.environment().putAll(env);
        return run(pb);
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private Result run(List<String> cmd) throws Exception {
        return run(new ProcessBuilder(new ArrayList<>(cmd)).directory(root.toFile()));
    }

    private static Result run(ProcessBuilder pb) throws Exception {
        pb.environment().putIfAbsent("DRAFTER_JAVA_HOME", System.getProperty("java.home"));
        pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        Path out = Files.createTempFile("aot-test", ".out");
        Path err = Files.createTempFile("aot-test", ".err");
        try {
            Process p =
                    pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(90, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("timed out: " + pb.command());
            }
            return new Result(
                    p.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private record Result(int rc, String out, String err) {}
}
