using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Paxos;

/// <summary>
/// The storage's fsync calls, timed and counted, and skipped when <see cref="FileReplicaStorageOptions.SyncEnabled"/>
/// is off.
/// </summary>
/// <remarks>
/// <para>A file is flushed with <see cref="RandomAccess.FlushToDisk"/>, which is <c>fsync</c> on Linux, the
/// platform the durability claims are made for. <c>fdatasync</c> was measured too (4 KiB appends to a preallocated 64 MiB file
/// on this project's ext4 build machine): the two were within the noise of each other (about 2,000–3,500 per
/// second each), because a preallocated segment whose size is already set leaves fsync no inode change to write
/// besides the modification time. So the portable call it is, without a P/Invoke on the hot path.</para>
/// <para>A directory must be fsynced for a created or renamed file to survive a crash (POSIX leaves the
/// directory entry volatile until then). .NET cannot open a directory as a file, so on Linux, macOS and FreeBSD
/// this calls <c>open(O_RDONLY)</c>, <c>fsync</c> and <c>close</c> from libc. Elsewhere (Windows) it does nothing:
/// NTFS journals its metadata, and a directory cannot be flushed there through a plain handle.</para>
/// </remarks>
internal static class DurableIo
{
    private const int ReadOnlyFlag = 0; // O_RDONLY, the same on every Unix. O_DIRECTORY differs by architecture, so it is not used.

    /// <summary>Makes everything written to <paramref name="handle"/> durable.</summary>
    public static void FlushFile(SafeFileHandle handle, bool syncEnabled, StorageCounters counters)
    {
        if (!syncEnabled)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        ThrowIfInjected(directory: null);
        try
        {
            RandomAccess.FlushToDisk(handle);
        }
        catch (IOException exception)
        {
            throw new SyncFailedException(exception);
        }

        counters.CountFsync(Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Makes the entries of <paramref name="directory"/> (files created, renamed or deleted in it) durable.</summary>
    public static void FlushDirectory(string directory, bool syncEnabled, StorageCounters counters)
    {
        if (!syncEnabled || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()))
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        ThrowIfInjected(directory);
        FsyncDirectory(directory);

        counters.CountFsync(Stopwatch.GetElapsedTime(started));
    }

    /// <summary>For tests: consulted before every fsync made on this asynchronous flow (and threads it starts), with
    /// the directory being flushed (null for a file); an <see cref="IOException"/> it returns fails that fsync as the
    /// disk would. Null in production, where reading it costs a few nanoseconds against the fsync's hundreds of
    /// microseconds.</summary>
    internal static readonly AsyncLocal<Func<string?, IOException?>?> InjectedFailure = new();

    private static void ThrowIfInjected(string? directory)
    {
        if (InjectedFailure.Value?.Invoke(directory) is { } failure)
        {
            throw new SyncFailedException(failure);
        }
    }

    private static void FsyncDirectory(string directory)
    {
        var path = Encoding.UTF8.GetBytes(directory + "\0");
        var fd = NativeMethods.Open(path, ReadOnlyFlag);
        if (fd < 0)
        {
            throw Failure("open", directory);
        }

        try
        {
            if (NativeMethods.Fsync(fd) != 0)
            {
                throw new SyncFailedException(Failure("fsync", directory)); // Not open's or close's failures: no fsync ran.
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }
    }

    private static IOException Failure(string call, string directory) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{call} of the directory {directory} failed with errno {Marshal.GetLastPInvokeError()}."));

    private static class NativeMethods
    {
        // byte[] rather than string: a blittable array needs no marshalling code and no unsafe context.
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Open(byte[] path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Fsync(int fd);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Close(int fd);
    }
}

/// <summary>An fsync (of a file or a directory) failed. After one, what the kernel caches of the files may not be
/// what the disk holds (<see cref="FileReplicaStorage"/>'s remarks on failures), which is why the storage records
/// it in the data directory.</summary>
internal sealed class SyncFailedException(IOException cause)
    : IOException($"An fsync failed: {cause.Message}", cause);
