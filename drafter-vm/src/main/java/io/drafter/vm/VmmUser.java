package io.drafter.vm;

/**
 * The unprivileged user and group a VMM process runs as once it has opened its devices (Drafter's {@code --uid} and
 * {@code --gid}); QEMU drops to them with {@code -run-with user=uid:gid}, keeping only its own group.
 *
 * <p>Files the VMM opens after dropping (disks, which QEMU reopens when it pauses for a snapshot; the state file of a
 * resume or a snapshot) must be readable and writable by this user; its run directory must be searchable by it.
 *
 * @param uid the user id, above 0
 * @param gid the group id, above 0: group root would give the VMM every root-group file
 */
public record VmmUser(int uid, int gid) {
    public VmmUser {
        if (uid <= 0 || gid <= 0) {
            throw new IllegalArgumentException("could not run the VMM as " + uid + ":" + gid
                    + ": uid and gid must both be above 0 (root is the default)");
        }
    }

    /** {@code uid:gid}, as QEMU's {@code -run-with user=} takes it. */
    @Override
    public String toString() {
        return uid + ":" + gid;
    }
}
