package io.drafter.pkg.oci;

import io.drafter.pkg.Progress;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a container image into Drafter's {@code oci.ext4}: an ext4 file system labelled {@code oci}
 * whose root holds an OCI runtime bundle ({@code config.json} + {@code rootfs/}). The guest mounts the
 * disk by label and runs the bundle's process with {@code rootfs/} as its root.
 *
 * <p>Needs root to keep file owners and device nodes; without root the build is refused because the
 * resulting bundle would have wrong owners. Not thread-safe; one build per instance of work directory.
 */
public final class OciBuilder {
    /** Label of the bundle disk, which the guest mounts. */
    public static final String LABEL = "oci";

    private static final Logger LOG = System.getLogger(OciBuilder.class.getName());

    private OciBuilder() {}

    /**
     * Builds {@code output} from the image at {@code image} (layout directory, docker archive, or a tar of
     * either) for {@code platform}.
     *
     * @return the image configuration that went into the bundle
     */
    public static ImageConfig build(Path image, Path output, Platform platform, Progress progress) throws IOException {
        if (!isRoot()) {
            throw new IOException(
                    "could not build " + output + ": run as root (file owners of the image must be kept)");
        }
        Path work = Files.createTempDirectory(
                output.toAbsolutePath().getParent() == null
                        ? Path.of(".")
                        : Files.createDirectories(output.toAbsolutePath().getParent()),
                ".oci-build-");
        try {
            OciImage img = OciImage.open(image, platform, work.resolve("image"));
            Path bundle = work.resolve("bundle");
            Path rootfs = bundle.resolve(RuntimeBundle.ROOTFS);
            Files.createDirectories(rootfs);
            unpack(img, rootfs, progress);
            RuntimeBundle.write(bundle, img.config());
            LOG.log(
                    Level.INFO,
                    "making ext4 {0} from {1} layers",
                    output,
                    img.layers().size());
            Ext4Image.make(bundle, output, LABEL);
            return img.config();
        } finally {
            progress.finish();
            LayerUnpacker.deleteRecursively(work);
        }
    }

    /** Applies the layers of {@code img} in order to {@code rootfs}. */
    static void unpack(OciImage img, Path rootfs, Progress progress) throws IOException {
        LayerUnpacker unpacker = new LayerUnpacker(rootfs, isRoot());
        long total = 0;
        for (OciImage.Layer l : img.layers()) {
            total += Files.size(l.blob());
        }
        long done = 0;
        int i = 0;
        for (OciImage.Layer l : img.layers()) {
            i++;
            String name = "layer " + i + "/" + img.layers().size();
            String described = name + (l.digest().isEmpty() ? "" : " (" + l.digest() + ")");
            try (OciImage.VerifiedLayer layer = OciImage.openLayer(l)) {
                unpacker.apply(layer.tar(), described);
                layer.verify();
            } catch (IOException e) {
                String m = e.getMessage();
                if (m != null && m.startsWith("could not ")) {
                    throw e;
                }
                throw new IOException(
                        "could not unpack " + described + ": corrupt layer ("
                                + (m == null ? e.getClass().getSimpleName() : m) + ")",
                        e);
            }
            done += Files.size(l.blob());
            progress.update(name, done, total);
        }
    }

    static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
