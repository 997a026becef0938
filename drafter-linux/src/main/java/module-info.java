/**
 * Linux through the Foreign Function and Memory API (libc calls, errno, mounts, /dev/fuse) and the child processes
 * Drafter starts ({@code HelperCommand}, {@code TiedProcesses}).
 */
module io.drafter.linux {
    exports io.drafter.linux;
    exports io.drafter.linux.fuse;
}
