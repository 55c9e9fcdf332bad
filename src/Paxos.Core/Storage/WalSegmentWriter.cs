using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Paxos.Storage;

/// <summary>
/// The segment the log appends to: its handle, where the next record goes (<see cref="Offset"/>), and how far the
/// storage has declared it durable (<see cref="DurableOffset"/>, the watermark every batch record carries).
/// </summary>
/// <remarks>Appended records collect in a write buffer and reach the file with one positional write when the log
/// syncs, when the storage finishes a call (<see cref="WritePending"/>) or when the buffer is full — so a group
/// commit of many batches costs one <c>pwrite</c> and one fsync, not a write per batch.
/// <para>A preallocated segment is also <em>written</em> ahead of the appends, with zeros, a
/// <see cref="ZeroChunkBytes"/> chunk at a time. <c>fallocate</c> reserves blocks as "unwritten" extents, so the
/// first write into one changes the file's extent map and its fsync must write that metadata too (a journal
/// commit on a journaling file system) as well as flush the data; into blocks already written, an fsync is a data
/// write and a cache flush. On the
/// project's ext4 build machine that made a 4 KiB append's fsync 25–40% cheaper, alone and with three logs syncing
/// at once (C test, interleaved runs). One fsync per chunk pays for the conversion instead of every one. Writing
/// the whole segment with zeros when it is created costs the same and floods the disk for a moment (which slowed
/// the other replicas' fsyncs in an earlier trial), so the zeros stay one chunk ahead. Zeros past the data change
/// nothing a reader sees: the end of the records is marked by zeros anyway.</para></remarks>
internal sealed class WalSegmentWriter : IDisposable
{
    /// <summary>The write buffer's size: appends beyond it are written out first.</summary>
    internal const int WriteBufferBytes = 256 * 1024;

    /// <summary>How many writes since the last batch larger than <see cref="WriteBufferBytes"/> (the one carrying it
    /// included) shrink the buffer it grew back to that size.</summary>
    internal const int ShrinkAfterWrites = 64;

    /// <summary>How far a preallocated segment is written with zeros at a time, ahead of its appends.</summary>
    internal const int ZeroChunkBytes = 1 << 20;

    private static readonly byte[] Zeros = new byte[ZeroChunkBytes];

    private readonly SafeFileHandle _handle;
    private byte[] _pending = [];
    private int _pendingLength;
    private int _writesSinceLarge;
    private readonly bool _syncEnabled;
    private readonly StorageCounters _counters;

    /// <summary>Where a preallocated segment's written blocks end (zeros or records), never before
    /// <see cref="Offset"/>; <see cref="long.MaxValue"/> when it is not preallocated (appends extend the file).</summary>
    private long _writtenTo;

    /// <summary>How far zeros are written ahead: the preallocated size of the segment.</summary>
    private readonly long _zeroLimit;

    /// <summary>For a segment whose creation was interrupted (<see cref="ResumeCreation"/>): the directory to fsync
    /// once its header is written, with the first records. Null once the segment has a durable header.</summary>
    private string? _headerOwedIn;

    private WalSegmentWriter(SafeFileHandle handle, string path, long number, ulong salt, long end, long writtenTo, long zeroLimit, bool syncEnabled, StorageCounters counters)
    {
        _handle = handle;
        Path = path;
        Number = number;
        Salt = salt;
        Offset = end;
        DurableOffset = end;
        _writtenTo = writtenTo;
        _zeroLimit = zeroLimit;
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
            var writtenTo = long.MaxValue;
            if (options.PreallocateSegments)
            {
                RandomAccess.SetLength(handle, options.SegmentBytes);
                writtenTo = Math.Min(ZeroChunkBytes, options.SegmentBytes);
                WriteZeros(handle, 0, writtenTo);
            }

            var salt = NewSalt();
            WriteHeader(handle, path, directory, number, salt, options.SyncEnabled, counters);
            return new WalSegmentWriter(handle, path, number, salt, WalFormat.SegmentHeaderBytes, writtenTo, options.SegmentBytes, options.SyncEnabled, counters);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes over the last segment when its creation was interrupted — a crash, or a full disk that refused its header
    /// (its first block, without preallocation) — so it holds no header and nothing else. Its header is written with
    /// its first records (<see cref="BeginAppend"/>), not here: recovery, and so a restart, needs no free space.
    /// </summary>
    public static WalSegmentWriter ResumeCreation(SafeFileHandle handle, string path, string directory, long number, FileReplicaStorageOptions options, StorageCounters counters) =>
        new(handle, path, number, NewSalt(), WalFormat.SegmentHeaderBytes, options.PreallocateSegments ? WalFormat.SegmentHeaderBytes : long.MaxValue, options.SegmentBytes, options.SyncEnabled, counters)
        {
            _headerOwedIn = directory,
        };

    private static ulong NewSalt()
    {
        Span<byte> salt = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(salt);
        return BitConverter.ToUInt64(salt);
    }

    /// <summary>Writes the header and makes it and the segment's directory entry durable, before any record can be.</summary>
    private static void WriteHeader(SafeFileHandle handle, string path, string directory, long number, ulong salt, bool syncEnabled, StorageCounters counters)
    {
        Span<byte> header = stackalloc byte[WalFormat.SegmentHeaderBytes];
        WalFormat.WriteSegmentHeader(header, number, salt);
        DurableIo.Write(handle, path, header, 0);
        DurableIo.FlushFile(handle, syncEnabled, counters);
        DurableIo.FlushDirectory(directory, syncEnabled, counters);
        counters.CountSegmentCreated();
    }

    /// <summary>Continues a recovered segment at <paramref name="end"/>, which recovery made durable. Zeros are
    /// written from there on (what lies past the end may be unwritten blocks, or a torn record's bytes).</summary>
    public static WalSegmentWriter Reopen(SafeFileHandle handle, string path, long number, ulong salt, long end, FileReplicaStorageOptions options, StorageCounters counters) =>
        new(handle, path, number, salt, end, options.PreallocateSegments ? end : long.MaxValue, options.SegmentBytes, options.SyncEnabled, counters);

    /// <summary>Room for <paramref name="bytes"/> bytes of records at <see cref="Offset"/>, in the write buffer; fill
    /// it, then call <see cref="EndAppend"/>. Writes the buffer out first when the records do not fit behind it.</summary>
    public Span<byte> BeginAppend(int bytes)
    {
        if (_headerOwedIn is { } directory)
        {
            WriteHeader(_handle, Path, directory, Number, Salt, _syncEnabled, _counters);
            _headerOwedIn = null;
        }

        WriteZerosAhead(Offset + bytes);
        if (bytes > WriteBufferBytes)
        {
            _writesSinceLarge = 0;
        }

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

    /// <summary>Writes zeros, a chunk at a time, until the written blocks reach <paramref name="end"/> (or the
    /// preallocated size). They land past every appended byte, buffered ones included, so they never cover a record,
    /// and before the records that will cover them: those reach the file later, with <see cref="WritePending"/>.</summary>
    private void WriteZerosAhead(long end)
    {
        while (_writtenTo < end && _writtenTo < _zeroLimit)
        {
            var to = Math.Min(_writtenTo + ZeroChunkBytes, _zeroLimit);
            WriteZeros(_handle, _writtenTo, to);
            _writtenTo = to;
        }
    }

    /// <summary>Writes zeros over [<paramref name="from"/>, <paramref name="to"/>) of a file, a chunk at a time from one
    /// shared buffer (no sync). Also how recovery cuts a torn tail off a preallocated segment.</summary>
    internal static void WriteZeros(SafeFileHandle handle, long from, long to)
    {
        for (var position = from; position < to; position += ZeroChunkBytes)
        {
            RandomAccess.Write(handle, Zeros.AsSpan(0, (int)Math.Min(ZeroChunkBytes, to - position)), position);
        }
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

        DurableIo.Write(_handle, Path, _pending.AsSpan(0, _pendingLength), Offset - _pendingLength);

        // A batch larger than the buffer grew it; once such batches stop coming, give the memory back (a grown
        // buffer gathers more small batches per write than the usual one, so those do not count as large).
        if (_pending.Length > WriteBufferBytes && ++_writesSinceLarge >= ShrinkAfterWrites)
        {
            _pending = new byte[WriteBufferBytes];
            _writesSinceLarge = 0;
        }

        _pendingLength = 0;
    }

    /// <summary>The write buffer's current size; for tests.</summary>
    internal int BufferBytes => _pending.Length;

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
