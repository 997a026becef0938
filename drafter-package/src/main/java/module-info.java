/** Drafter packages ({@code .tar.zst}) and OCI images turned into {@code oci.ext4} runtime bundles. */
module io.drafter.pkg {
    requires io.drafter.base;
    requires io.drafter.linux;
    requires com.fasterxml.jackson.databind;
    requires com.github.luben.zstd_jni;
    requires org.apache.commons.compress;
    requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT

    exports io.drafter.pkg;
    exports io.drafter.pkg.oci;
}
