using System.Runtime.InteropServices;

namespace Paxos.Crash.Tests;

/// <summary>POSIX signals to a process by id, through libc's <c>kill(2)</c>: exactly what <c>kill -9</c>,
/// <c>kill -STOP</c> and <c>kill -CONT</c> send, at once and without starting a process.</summary>
internal static class Signals
{
    // Linux numbers (x86-64 and arm64 alike); the test runs on Linux only.
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    /// <summary>SIGKILL: the process ends at once, wherever it is — mid-write or mid-fsync included.</summary>
    public static void Kill(int pid) => Send(pid, SigKill);

    /// <summary>SIGSTOP: the process is frozen; its sockets stay open and fill up, its peers hear nothing.</summary>
    public static void Stop(int pid) => Send(pid, SigStop);

    /// <summary>SIGCONT: a frozen process runs on as if nothing happened — though its peers may have moved on.</summary>
    public static void Continue(int pid) => Send(pid, SigCont);

    private static void Send(int pid, int signal)
    {
        // ESRCH (the process is gone) is not an error here: a kill races with the process's own exit.
        if (kill(pid, signal) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != 3)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {errno}.");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
