using System.Diagnostics;
using System.Globalization;

namespace Paxos.Sample;

/// <summary>What this process has used: its peak resident memory and its CPU time.</summary>
internal static class ProcessMetrics
{
    /// <summary>The peak resident set: <c>VmHWM</c> from <c>/proc/self/status</c> on Linux (the kernel's own
    /// high-water mark), else <see cref="Process.PeakWorkingSet64"/>.</summary>
    public static long PeakMemoryBytes()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal)
                        && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                    {
                        return kib * 1024;
                    }
                }
            }
        }
        catch (IOException)
        {
            // Fall back to what the runtime reports.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise.
        }

        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64;
    }

    /// <summary>This process's user and system CPU time so far.</summary>
    public static (TimeSpan User, TimeSpan System) CpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return (self.UserProcessorTime, self.PrivilegedProcessorTime);
    }
}
