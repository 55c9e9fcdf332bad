using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Paxos;

/// <summary>
/// The segment the log appends to: its handle, where the next record goes (<see cref="Offset"/>), and how far the
/// storage has declared it durable (<see cref="DurableOffset"/>, the watermark every batch record carries).
/// </summary>
internal sealed class WalSegmentWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly bool _syncEnabled;
    private readonly StorageCounters _counters;

    private WalSegmentWriter(SafeFileHandle handle, string path, long number, ulong salt, long end, bool syncEnabled, StorageCounters counters)
    {
        _handle = handle;
        Path = path;
        Number = number;
        Salt = salt;
        Offset = end;
        DurableOffset = end;
        _syncEnabled = syncEnabled;
        _counters = counters;
    }

    public string Path { get; }

    public long Number { get; }

    public ulong Salt { get; }

    /// <summary>Where the next record goes.</summary>
    public long Offset { get; private set; }

    /// <summary>Everything before this offset was declared durable: fsynced, or would have been with
    /// <see cref="FileReplicaStorageOptions.SyncEnabled"/> on.</summary>
    public long DurableOffset { get; private set; }

    /// <summary>Whether a record follows the header.</summary>
    public bool HasRecords => Offset > WalFormat.SegmentHeaderBytes;

    /// <summary>Whether bytes were appended since the last <see cref="Sync"/>.</summary>
    public bool IsDirty => Offset > DurableOffset;

    /// <summary>Creates segment <paramref name="number"/> with its header and makes both the file and its
    /// directory entry durable, so that a segment holding records always has a durable header.</summary>
    public static WalSegmentWriter Create(string directory, long number, FileReplicaStorageOptions options, StorageCounters counters)
    {
        var path = System.IO.Path.Combine(directory, WalFormat.SegmentFileName(number));
        var preallocation = options.PreallocateSegments ? options.SegmentBytes : 0;
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.None, preallocation);
        try
        {
            // PreallocationSize allocates the blocks but (on Linux) keeps the size at 0; setting the size too means
            // an append changes no inode field but the time, and the end of the data is marked by zeros.
            if (options.PreallocateSegments)
            {
                RandomAccess.SetLength(handle, options.SegmentBytes);
            }

            Span<byte> saltBytes = stackalloc byte[sizeof(ulong)];
            RandomNumberGenerator.Fill(saltBytes);
            var salt = BitConverter.ToUInt64(saltBytes);
            Span<byte> header = stackalloc byte[WalFormat.SegmentHeaderBytes];
            WalFormat.WriteSegmentHeader(header, number, salt);
            RandomAccess.Write(handle, header, 0);
            DurableIo.FlushFile(handle, options.SyncEnabled, counters);
            DurableIo.FlushDirectory(directory, options.SyncEnabled, counters);
            counters.CountSegmentCreated();
            return new WalSegmentWriter(handle, path, number, salt, WalFormat.SegmentHeaderBytes, options.SyncEnabled, counters);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Continues a recovered segment at <paramref name="end"/>, which recovery made durable.</summary>
    public static WalSegmentWriter Reopen(SafeFileHandle handle, string path, long number, ulong salt, long end, FileReplicaStorageOptions options, StorageCounters counters) =>
        new(handle, path, number, salt, end, options.SyncEnabled, counters);

    /// <summary>Writes <paramref name="records"/> at <see cref="Offset"/> with one positional write.</summary>
    public void Append(ReadOnlySpan<byte> records)
    {
        RandomAccess.Write(_handle, records, Offset);
        Offset += records.Length;
    }

    /// <summary>Makes everything appended durable (one fsync) and moves the watermark.</summary>
    public void Sync()
    {
        DurableIo.FlushFile(_handle, _syncEnabled, _counters);
        DurableOffset = Offset;
    }

    public void Dispose() => _handle.Dispose();
}
