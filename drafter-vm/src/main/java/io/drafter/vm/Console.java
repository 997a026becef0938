package io.drafter.vm;

/** Where the guest's serial console goes besides its log file. */
public enum Console {
    /** Only the log file. */
    LOG,
    /** The log file and this process's standard output (Drafter's {@code --enable-output}). */
    OUTPUT,
    /** The log file, standard output and standard input (Drafter's {@code --enable-input}). */
    TERMINAL
}
