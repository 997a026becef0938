package io.drafter.net;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.drafter.linux.ProcessState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * What a running {@code drafter nat} created, kept as JSON in {@code <stateDir>/nat-<prefix>.json} so that
 * {@code drafter nat --clean} can remove the leftovers of a run that was killed. Written before anything is
 * created (so it lists everything that may exist) and deleted after everything is removed.
 *
 * @param version format version, {@link #VERSION}
 * @param prefix namespace prefix
 * @param pid process that owns the NAT
 * @param hostInterface egress interface of the host masquerade
 * @param hostTable nft table in the host namespace
 * @param ipForwardBefore value of {@code net.ipv4.ip_forward} before the NAT started
 * @param namespaces namespace names
 * @param hostLinks host-side veth names
 */
public record NatState(
        int version,
        String prefix,
        long pid,
        String hostInterface,
        String hostTable,
        String ipForwardBefore,
        List<String> namespaces,
        List<String> hostLinks) {

    /** The only format version written and read. */
    public static final int VERSION = 1;

    private static final ObjectMapper JSON =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** The state file for {@code prefix} under {@code stateDir}. */
    public static Path file(Path stateDir, String prefix) {
        return stateDir.resolve("nat-" + prefix + ".json");
    }

    /** Writes the state atomically (temp file + rename). */
    void write(Path stateDir) {
        Path target = file(stateDir, prefix);
        try {
            Files.createDirectories(stateDir);
            Path tmp = stateDir.resolve(target.getFileName() + ".tmp");
            JSON.writeValue(tmp.toFile(), this);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new NetException("could not write state file " + target + ": " + e.getMessage(), e);
        }
    }

    /** Reads the state of {@code prefix}, if a file exists. */
    static Optional<NatState> read(Path stateDir, String prefix) {
        Path f = file(stateDir, prefix);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            NatState s = JSON.readValue(f.toFile(), NatState.class);
            if (s.version() != VERSION) {
                throw new NetException(
                        "could not read state file " + f + ": version " + s.version() + ", expected " + VERSION);
            }
            return Optional.of(s);
        } catch (IOException e) {
            throw new NetException("could not read state file " + f + ": " + oneLine(e), e);
        }
    }

    /** Every state file in {@code stateDir}, ignoring unreadable ones. */
    static List<NatState> readAll(Path stateDir) {
        if (!Files.isDirectory(stateDir)) {
            return List.of();
        }
        try (var files = Files.list(stateDir)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("nat-") && n.endsWith(".json"))
                    .map(n -> n.substring(4, n.length() - 5))
                    .flatMap(prefix -> {
                        try {
                            return read(stateDir, prefix).stream();
                        } catch (NetException e) {
                            return java.util.stream.Stream.empty();
                        }
                    })
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    static void delete(Path stateDir, String prefix) {
        try {
            Files.deleteIfExists(file(stateDir, prefix));
        } catch (IOException e) {
            throw new NetException("could not delete state file " + file(stateDir, prefix) + ": " + e.getMessage(), e);
        }
    }

    /** Whether the owning process still runs (a zombie does not) and is not this process. */
    boolean ownerAliveElsewhere() {
        return pid != ProcessHandle.current().pid() && ProcessState.runs(pid);
    }

    private static String oneLine(IOException e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
