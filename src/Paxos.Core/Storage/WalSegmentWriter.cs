using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Paxos;

/// <summary>
/// The segment the log appends to: its handle, where the next record goes (<see cref="Offset"/>), and how far the
/// storage has declared it durable (<see cref="DurableOffset"/>, the watermark every batch record carries).
/// </summary>
/// <remarks>Appended records collect in a write buffer and reach the file with one positional write when the log
/// syncs, when the storage finishes a call (<see cref="WritePending"/>) or when the buffer is full — so a group
/// commit of many batches costs one <c>pwrite</c> and one fsync, not a write per batch.</remarks>
internal sealed class WalSegmentWriter : IDisposable
{
    /// <summary>The write buffer's size: appends beyond it are written out first.</summary>
    internal const int WriteBufferBytes = 256 * 1024;

    private readonly SafeFileHandle _handle;
    private byte[] _pending = [];
    private int _pendingLength;
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

    /// <summary>Whether appended bytes wait in the write buffer.</summary>
    public bool HasPending => _pendingLength > 0;

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

    /// <summary>Room for <paramref name="bytes"/> bytes of records at <see cref="Offset"/>, in the write buffer; fill
    /// it, then call <see cref="EndAppend"/>. Writes the buffer out first when the records do not fit behind it.</summary>
    public Span<byte> BeginAppend(int bytes)
    {
        if (_pendingLength + bytes > _pending.Length)
        {
            WritePending();
            if (bytes > _pending.Length)
            {
                _pending = new byte[Math.Max(bytes, WriteBufferBytes)];
            }
        }

        return _pending.AsSpan(_pendingLength, bytes);
    }

    /// <summary>Takes the <paramref name="bytes"/> bytes filled since <see cref="BeginAppend"/> as appended.</summary>
    public void EndAppend(int bytes)
    {
        _pendingLength += bytes;
        Offset += bytes;
    }

    /// <summary>Writes the buffered records to the file (no sync) with one positional write.</summary>
    public void WritePending()
    {
        if (_pendingLength == 0)
        {
            return;
        }

        RandomAccess.Write(_handle, _pending.AsSpan(0, _pendingLength), Offset - _pendingLength);
        _pendingLength = 0;
    }

    /// <summary>Makes everything appended durable (one write of the buffer, one fsync) and moves the watermark.</summary>
    public void Sync()
    {
        WritePending();
        DurableIo.FlushFile(_handle, _syncEnabled, _counters);
        DurableOffset = Offset;
    }

    /// <summary>Closes the file. Records still in the write buffer are not written: the storage writes them out at
    /// the end of every call, and after a failure nothing more may be written.</summary>
    public void Dispose() => _handle.Dispose();
}
