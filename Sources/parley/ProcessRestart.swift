import Foundation

/// Starting this process again in place: the same command line, pid and data directory, a fresh
/// process image (so a fresh cluster identity). Used by a node the cluster declared dead — after a
/// freeze (SIGSTOP, a paused VM, a machine that slept) it comes back on its own instead of staying
/// down until someone restarts it.
enum ProcessRestart {
    /// The descriptors the process was started with (call ``recordStartingDescriptors()`` first
    /// thing): they stay open across a restart, as its parent gave them. A parent may watch one of
    /// them to learn that the process ended (Foundation's `Process` does), so closing it would
    /// tell the parent a lie.
    nonisolated(unsafe) private static var startingDescriptors: Set<Int32> = []

    /// Notes the descriptors open now; call it before the process opens any of its own.
    static func recordStartingDescriptors() {
        // Those an exec keeps: open (the listing's own descriptor is closed again by now) and not close-on-exec.
        startingDescriptors = openDescriptors().filter { fd in
            let flags = fcntl(fd, F_GETFD)
            return flags >= 0 && flags & FD_CLOEXEC == 0
        }
    }

    /// Replaces the process with `/proc/self/exe` and the original arguments. Every descriptor the
    /// process opened itself is closed on the way (a listening socket or database still open would
    /// keep the new image from opening its own), and the signal mask and the handlers of SIGINT and
    /// SIGTERM are reset. Returns only if the exec failed, with its errno.
    static func replaceProcess(arguments: [String] = CommandLine.arguments) -> Int32 {
        fflush(nil)
        for fd in openDescriptors() where fd > 2 && !startingDescriptors.contains(fd) {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        restoreDefaultSignals()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        return errno
    }

    /// SIGINT and SIGTERM end the process again (the stopped node no longer listens for them) and
    /// nothing is blocked: a stop asked for while the node waits to start again is not lost.
    static func restoreDefaultSignals() {
        var empty = sigset_t()
        sigemptyset(&empty)
        sigprocmask(SIG_SETMASK, &empty, nil)
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    private static func openDescriptors() -> Set<Int32> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(names.compactMap { Int32($0) })
    }
}
