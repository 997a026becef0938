package io.drafter.pkg.oci;

import java.util.List;
import java.util.Map;

/**
 * The parts of an OCI image configuration that decide how its process runs.
 *
 * @param platform platform the image is built for
 * @param entrypoint {@code config.Entrypoint}, possibly empty
 * @param cmd {@code config.Cmd}, possibly empty
 * @param env {@code config.Env} ({@code KEY=value})
 * @param workingDir {@code config.WorkingDir}, empty for {@code /}
 * @param user {@code config.User}: {@code uid}, {@code uid:gid}, {@code name} or {@code name:group}; empty for root
 * @param labels {@code config.Labels}
 */
public record ImageConfig(
        Platform platform,
        List<String> entrypoint,
        List<String> cmd,
        List<String> env,
        String workingDir,
        String user,
        Map<String, String> labels) {
    public ImageConfig {
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        env = List.copyOf(env);
        labels = Map.copyOf(labels);
        workingDir = workingDir == null ? "" : workingDir;
        user = user == null ? "" : user;
    }
}
