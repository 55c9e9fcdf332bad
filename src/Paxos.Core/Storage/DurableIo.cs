using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Paxos.Storage;

/// <summary>
/// The storage's fsync calls, timed and counted, and skipped when <see cref="FileReplicaStorageOptions.SyncEnabled"/>
/// is off. Every fsync, of a file or a directory, in writing or in recovery, goes through <see cref="Fsync"/>, which
/// takes any non-zero result as a failed sync.
/// </summary>
/// <remarks>
/// <para>On Linux, macOS and FreeBSD a file is flushed by calling <c>fsync</c> from libc on its descriptor, not with
/// <see cref="RandomAccess.FlushToDisk"/>: .NET's Unix implementation of that call ignores <c>EROFS</c>,
/// <c>EINVAL</c> and <c>ENOTSUP</c> (meant for descriptors that cannot be synced, such as pipes), and <c>EROFS</c>
/// is exactly what every fsync returns once ext4 hits an error and remounts itself read-only. Counted as success,
/// it would let the replica send messages that depend on records the disk never took. <c>fdatasync</c> was measured
/// too (4 KiB appends to a preallocated 64 MiB file on this project's ext4 build machine): the two were within the
/// noise of each other, because a preallocated segment whose size is already set leaves fsync no inode change to
/// write besides the modification time.</para>
/// <para>A directory must be fsynced for a created or renamed file to survive a crash (POSIX leaves the
/// directory entry volatile until then). .NET cannot open a directory as a file, so on Unix it is opened with
/// libc's <c>open(O_RDONLY)</c> and then fsynced like a file. On Windows a file is flushed with
/// <see cref="RandomAccess.FlushToDisk"/> (<c>FlushFileBuffers</c>, whose every failure .NET reports) and a directory
/// is not flushed at all: NTFS journals its metadata, and a directory cannot be flushed there through a plain
/// handle.</para>
/// </remarks>
internal static class DurableIo
{
    private const int ReadOnlyFlag = 0; // O_RDONLY, the same on every Unix. O_DIRECTORY differs by architecture, so it is not used.

    private static bool IsUnix => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Makes everything written to <paramref name="handle"/> durable.</summary>
    /// <exception cref="SyncFailedException">The fsync failed.</exception>
    public static void FlushFile(SafeFileHandle handle, bool syncEnabled, StorageCounters counters)
    {
        if (!syncEnabled)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        Fsync(handle, directory: null);
        counters.CountFsync(Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Makes the entries of <paramref name="directory"/> (files created, renamed or deleted in it) durable.</summary>
    /// <exception cref="SyncFailedException">The fsync failed.</exception>
    /// <exception cref="IOException">The directory could not be opened (no fsync ran).</exception>
    public static void FlushDirectory(string directory, bool syncEnabled, StorageCounters counters)
    {
        if (!syncEnabled || !IsUnix)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        using (var handle = OpenDirectory(directory))
        {
            Fsync(handle, directory);
        }

        counters.CountFsync(Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Creates <paramref name="directory"/> and any missing parent, one level at a time, fsyncing each parent that
    /// gained an entry: until then a power loss could take the new directory away, and with it everything later
    /// made durable inside it (a replica that starts empty again would vote as if it had promised nothing).
    /// </summary>
    /// <exception cref="SyncFailedException">An fsync failed.</exception>
    /// <exception cref="IOException">A directory could not be created or opened.</exception>
    public static void CreateDirectory(string directory, bool syncEnabled, StorageCounters counters)
    {
        var missing = new Stack<string>();
        for (var path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)); !Directory.Exists(path); path = Path.GetDirectoryName(path)!)
        {
            missing.Push(path);
        }

        while (missing.TryPop(out var path))
        {
            Directory.CreateDirectory(path);
            FlushDirectory(Path.GetDirectoryName(path)!, syncEnabled, counters);
        }
    }

    /// <summary>
    /// For tests: consulted before every fsync made on this asynchronous flow (and threads it starts), with the
    /// directory being flushed (null for a file). A number it returns is taken as the fsync system call's result
    /// (an errno, or 0 for success) and the call is not made; null makes the call. Null in production, where
    /// reading it costs a few nanoseconds against the fsync's hundreds of microseconds.
    /// </summary>
    internal static readonly AsyncLocal<Func<string?, int?>?> InjectedResult = new();

    /// <summary>Writes <paramref name="bytes"/> at <paramref name="offset"/> of the log file <paramref name="path"/>
    /// (a segment's header or records) with one positional write.</summary>
    /// <exception cref="IOException">The write failed (a full disk, say).</exception>
    public static void Write(SafeFileHandle handle, string path, ReadOnlySpan<byte> bytes, long offset)
    {
        if (InjectedWriteFailure.Value?.Invoke(path) is { } failure)
        {
            throw failure;
        }

        RandomAccess.Write(handle, bytes, offset);
    }

    /// <summary>For tests: consulted before every <see cref="Write"/> on this asynchronous flow, with the file's path;
    /// an exception it returns is thrown instead of writing, as .NET reports a write the kernel refused (ENOSPC, EIO).
    /// Null in production.</summary>
    internal static readonly AsyncLocal<Func<string, IOException?>?> InjectedWriteFailure = new();

    /// <summary>
    /// The one fsync: of a file, or of a directory opened by <see cref="OpenDirectory"/> (named by
    /// <paramref name="directory"/>, for the message). Any non-zero result fails, <c>EINTR</c> included: whether the
    /// kernel wrote the pages before the interruption cannot be told, and the storage never retries an fsync.
    /// </summary>
    /// <exception cref="SyncFailedException">The fsync failed; the message names the errno.</exception>
    internal static void Fsync(SafeFileHandle handle, string? directory)
    {
        var errno = InjectedResult.Value?.Invoke(directory) ?? SystemFsync(handle);
        if (errno != 0)
        {
            var what = directory is null ? "a file" : $"the directory {directory}";
            throw new SyncFailedException(new IOException(string.Create(CultureInfo.InvariantCulture, $"fsync of {what} failed with {Describe(errno)}.")));
        }
    }

    /// <summary>The fsync system call's result: 0, or the errno it failed with.</summary>
    private static int SystemFsync(SafeFileHandle handle)
    {
        if (!IsUnix)
        {
            try
            {
                RandomAccess.FlushToDisk(handle);
                return 0;
            }
            catch (IOException exception)
            {
                throw new SyncFailedException(exception);
            }
        }

        var added = false;
        try
        {
            // The reference keeps the descriptor from being closed (and its number reused) during the call.
            handle.DangerousAddRef(ref added);
            return NativeMethods.Fsync((int)handle.DangerousGetHandle()) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Opens a directory for fsync; the handle closes the descriptor when disposed.</summary>
    private static SafeFileHandle OpenDirectory(string directory)
    {
        var path = Encoding.UTF8.GetBytes(directory + "\0");
        var fd = NativeMethods.Open(path, ReadOnlyFlag);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"open of the directory {directory} failed with {Describe(errno)}."));
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>"errno 30 (EROFS: Read-only file system)": the number, the name where it is known, and the system's text.</summary>
    internal static string Describe(int errno)
    {
        var name = errno switch
        {
            4 => "EINTR",
            5 => "EIO",
            9 => "EBADF",
            22 => "EINVAL",
            28 => "ENOSPC",
            30 => "EROFS",
            95 when OperatingSystem.IsLinux() => "ENOTSUP",
            122 when OperatingSystem.IsLinux() => "EDQUOT",
            _ => null,
        };
        var text = Marshal.GetPInvokeErrorMessage(errno);
        return string.Create(CultureInfo.InvariantCulture, $"errno {errno} ({(name is null ? text : $"{name}: {text}")})");
    }

    private static class NativeMethods
    {
        // byte[] rather than string: a blittable array needs no marshalling code and no unsafe context.
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Open(byte[] path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Fsync(int fd);
    }
}

/// <summary>An fsync (of a file or a directory) failed. After one, what the kernel caches of the files may not be
/// what the disk holds (<see cref="FileReplicaStorage"/>'s remarks on failures), which is why the storage records
/// it in the data directory.</summary>
internal sealed class SyncFailedException(IOException cause)
    : IOException($"An fsync failed: {cause.Message}", cause);
