using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Paxos.Diagnostics;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>What recovery found, and the segment to append to next. <paramref name="SegmentSlots"/> lists the
/// segments oldest first, each with the highest slot held by it or any segment before it (for releasing the log).</summary>
internal sealed record RecoveredLog(PersistentState State, WalSegmentWriter Active, long RecordsRead, long TornBytes, int Segments, IReadOnlyList<(long Number, long MaxSlot)> SegmentSlots);

/// <summary>
/// Reads a data directory back (<see cref="FileReplicaStorage.LoadAsync"/>): the <c>view</c> file, then every
/// segment in order, rebuilding the state; it cuts off a torn tail and refuses damage (see
/// <see cref="WalFormat"/> for how the two are told apart).
/// </summary>
/// <remarks>
/// Every segment but the last was made durable in full before the next one was created, so in those any
/// record that fails its check, or any byte that is not zero after the end of the data, is damage. In the last
/// segment, a bad record (or a zero length) ends the data; what follows is a torn tail unless a valid batch
/// record after it says the log was already durable beyond that point.
/// </remarks>
internal sealed class WalRecovery
{
    private readonly string _directory;
    private readonly FileReplicaStorageOptions _options;
    private readonly StorageCounters _counters;
    private readonly ILogger _logger;
    private readonly WalStateBuilder _builder = new();
    private readonly List<(long Number, long MaxSlot)> _segmentSlots = [];
    private long _recordsRead;
    private long _tornBytes;

    private WalRecovery(string directory, FileReplicaStorageOptions options, StorageCounters counters, ILogger logger)
    {
        _directory = directory;
        _options = options;
        _counters = counters;
        _logger = logger;
    }

    /// <summary>Recovers <paramref name="directory"/>, which must exist.</summary>
    /// <exception cref="StorageCorruptionException">The log or the view file is damaged.</exception>
    public static RecoveredLog Run(string directory, FileReplicaStorageOptions options, StorageCounters counters, ILogger logger) =>
        new WalRecovery(directory, options, counters, logger).Run();

    private RecoveredLog Run()
    {
        DeleteLeftoverViewTemp();
        var (view, attempted) = ReadView();
        var numbers = ListSegments();
        if (numbers.Count == 0 && view != ViewNumber.None)
        {
            // Segment 1 is created, durable, before anything is persisted, and a release never removes the segment
            // being written: a view without a log is a directory that lost its segments, whose promises the replica
            // would forget.
            throw Corrupt(Path.Combine(_directory, WalFormat.SegmentFileName(1)), 0,
                $"the view file records view {view.Value} but no log segment exists (segment 1 is created before any view is written)");
        }
        for (var i = 0; i < numbers.Count - 1; i++)
        {
            ScanSealedSegment(numbers[i]);
            _segmentSlots.Add((numbers[i], _builder.MaxSlot));
        }

        var active = numbers.Count == 0
            ? WalSegmentWriter.Create(_directory, 1, _options, _counters)
            : RecoverLastSegment(numbers[^1]);
        _segmentSlots.Add((active.Number, _builder.MaxSlot));
        try
        {
            // After a kill -9 what was read may still be only in the page cache, and the replica is about to act on
            // it: make it durable, with the directory entries (a rename of view, a created segment) too.
            DurableIo.FlushDirectory(_directory, _options.SyncEnabled, _counters);
        }
        catch
        {
            active.Dispose();
            throw;
        }

        _counters.SetLastRecovery(_recordsRead, _tornBytes);
        StorageLog.Recovered(_logger, _directory, view, _recordsRead, Math.Max(1, numbers.Count));
        return new RecoveredLog(_builder.Build(view, attempted), active, _recordsRead, _tornBytes, Math.Max(1, numbers.Count), _segmentSlots);
    }

    /// <summary>A <c>view.tmp</c> is a replacement of <c>view</c> that was never renamed into place, so its batch
    /// was never acknowledged: the old <c>view</c> is the truth.</summary>
    private void DeleteLeftoverViewTemp()
    {
        var temp = Path.Combine(_directory, WalFormat.ViewTempFileName);
        if (File.Exists(temp))
        {
            File.Delete(temp);
            StorageLog.DeletedViewTemp(_logger, _directory);
        }
    }

    private (ViewNumber Installed, ViewNumber Attempted) ReadView()
    {
        var path = Path.Combine(_directory, WalFormat.ViewFileName);
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return (ViewNumber.None, ViewNumber.None);
        }

        var bytes = file.Length <= WalFormat.ViewFileBytes ? File.ReadAllBytes(path) : [];
        if (!WalFormat.TryReadViewFile(bytes, out var installed, out var attempted))
        {
            // A newer version was refused before recovery (DataDirectoryIdentity.ThrowIfNewerFormat).
            throw Corrupt(path, 0, $"the view file ({file.Length} bytes) has a bad length, magic, version or checksum");
        }

        return (installed, attempted);
    }

    /// <summary>The segment numbers, in order. They must be consecutive; they start at 1 unless a snapshot released
    /// the segments before the first, which the storage checks before recovery (<see cref="ListSegments(string)"/>).</summary>
    private List<long> ListSegments()
    {
        var numbers = ListSegments(_directory);
        for (var i = 1; i < numbers.Count; i++)
        {
            if (numbers[i] != numbers[i - 1] + 1)
            {
                var missing = Path.Combine(_directory, WalFormat.SegmentFileName(numbers[i - 1] + 1));
                throw Corrupt(missing, 0, $"segment {numbers[i - 1] + 1} is missing or duplicated between segments {numbers[i - 1]} and {numbers[i]}");
            }
        }

        return numbers;
    }

    /// <summary>The numbers of the segment files in <paramref name="directory"/>, in order, unchecked.</summary>
    public static List<long> ListSegments(string directory)
    {
        var numbers = new List<long>();
        foreach (var path in Directory.EnumerateFiles(directory, "wal-*.log"))
        {
            if (WalFormat.TryParseSegmentFileName(Path.GetFileName(path), out var number))
            {
                numbers.Add(number);
            }
        }

        numbers.Sort();
        return numbers;
    }

    private void ScanSealedSegment(long number)
    {
        var path = Path.Combine(_directory, WalFormat.SegmentFileName(number));
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = new WalSegmentReader(handle);
        var salt = ReadHeader(reader, path, number)
            ?? throw Corrupt(path, 0, $"the segment header is damaged, and the segment is not the last");
        var end = ScanRecords(reader, salt, path);
        if (ScanTail(reader, salt, end, findDurableBatch: false).DirtyEnd > end)
        {
            throw Corrupt(path, end, $"a record is damaged, in a segment that is not the last (each was durable in full before the next was created)");
        }
    }

    private WalSegmentWriter RecoverLastSegment(long number)
    {
        var path = Path.Combine(_directory, WalFormat.SegmentFileName(number));
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            using var reader = new WalSegmentReader(handle);
            if (ReadHeader(reader, path, number) is not { } salt)
            {
                return ResumeTornSegment(reader, handle, path, number);
            }

            var end = ScanRecords(reader, salt, path);
            var (dirtyEnd, durableBatch) = ScanTail(reader, salt, end, findDurableBatch: true);
            if (durableBatch is { } later)
            {
                throw Corrupt(path, end, $"a record is damaged, and the batch at offset {later} was written after the log was durable beyond it");
            }

            if (dirtyEnd > end)
            {
                CutTornTail(handle, path, end, dirtyEnd);
            }

            DurableIo.FlushFile(handle, _options.SyncEnabled, _counters);
            return WalSegmentWriter.Reopen(handle, path, number, salt, end, _options, _counters);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The last segment's header is bad. If nothing but zeros follows it, its creation was interrupted (a
    /// crash, or a disk too full for the header; the header is fsynced before any record is written), so it holds
    /// nothing: appending resumes in it, and its header is written with the first records. Writing it here instead
    /// would make a restart on a full disk fail, and the replica could not restart until space was freed.</summary>
    private WalSegmentWriter ResumeTornSegment(WalSegmentReader reader, SafeFileHandle handle, string path, long number)
    {
        if (ScanTail(reader, 0, WalFormat.SegmentHeaderBytes, findDurableBatch: false).DirtyEnd > WalFormat.SegmentHeaderBytes)
        {
            throw Corrupt(path, 0, $"the segment header is damaged, and data follows it");
        }

        StorageLog.ResumedTornSegment(_logger, _directory, path);
        return WalSegmentWriter.ResumeCreation(handle, path, _directory, number, _options, _counters);
    }

    /// <summary>The segment's salt, or null if its header is bad. A good header naming another segment is damage.</summary>
    private static ulong? ReadHeader(WalSegmentReader reader, string path, long number)
    {
        if (!WalFormat.TryReadSegmentHeader(reader.Read(0, WalFormat.SegmentHeaderBytes), out var written, out var salt))
        {
            return null;
        }

        return written == number
            ? salt
            : throw Corrupt(path, 0, $"the segment header names segment {written}");
    }

    /// <summary>Applies every intact record from the start of the segment and returns where they end: at a zero
    /// length, at the end of the file, or at the first record that fails its checks.</summary>
    private long ScanRecords(WalSegmentReader reader, ulong salt, string path)
    {
        long offset = WalFormat.SegmentHeaderBytes;
        while (true)
        {
            var prefix = reader.Read(offset, WalFormat.RecordPrefixBytes);
            if (prefix.Length < WalFormat.RecordPrefixBytes)
            {
                return offset;
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
            if (length == 0 || length > WalFormat.MaxRecordBytes || length > reader.Length - offset - WalFormat.RecordPrefixBytes)
            {
                return offset;
            }

            var record = reader.Read(offset, WalFormat.RecordPrefixBytes + (int)length);
            if (!WalFormat.IsIntact(record, salt, offset))
            {
                return offset;
            }

            Apply(record, path, offset);
            _recordsRead++;
            offset += record.Length;
        }
    }

    /// <summary>Applies an intact record. Intact but unreadable means the storage wrote it so (or a newer version
    /// did): never a torn write, so it is refused.</summary>
    private void Apply(ReadOnlySpan<byte> record, string path, long offset)
    {
        var type = record[WalFormat.RecordPrefixBytes];
        var payload = record[(WalFormat.RecordPrefixBytes + 1)..];
        if (type == (byte)WalRecordType.Batch)
        {
            if (!WalFormat.TryReadBatchPayload(payload, out var durable) || durable > offset)
            {
                throw Corrupt(path, offset, $"a batch record is intact but malformed");
            }

            return;
        }

        if (!_builder.TryApply((WalRecordType)type, payload))
        {
            throw Corrupt(path, offset, $"a record of type {type} is intact but malformed or of an unknown type");
        }
    }

    /// <summary>Looks at what follows the end of the data: where its last non-zero byte ends, and (when asked) the
    /// first valid batch record whose durable offset lies beyond <paramref name="end"/>.</summary>
    private static (long DirtyEnd, long? DurableBatch) ScanTail(WalSegmentReader reader, ulong salt, long end, bool findDurableBatch)
    {
        var dirtyEnd = end;
        for (var position = end; position < reader.Length;)
        {
            var chunk = reader.Read(position, WalSegmentReader.WindowBytes);
            var lastNonZero = chunk.LastIndexOfAnyExcept((byte)0);
            if (lastNonZero >= 0)
            {
                dirtyEnd = Math.Max(dirtyEnd, position + lastNonZero + 1);
            }

            if (findDurableBatch && FindDurableBatch(chunk, position, salt, end) is { } found)
            {
                return (dirtyEnd, found);
            }

            if (position + chunk.Length >= reader.Length)
            {
                break;
            }

            // Overlap the chunks so that a batch record across their boundary is seen whole.
            position += chunk.Length - (WalFormat.BatchRecordBytes - 1);
        }

        return (dirtyEnd, null);
    }

    /// <summary>A batch record lies anywhere (records are unaligned), so every place its length field could start
    /// is tried; the checksum, seeded with the offset, rejects all but real ones.</summary>
    private static long? FindDurableBatch(ReadOnlySpan<byte> chunk, long position, ulong salt, long end)
    {
        ReadOnlySpan<byte> lengthField = [WalFormat.BatchRecordLength, 0, 0, 0];
        for (var from = 0; from < chunk.Length;)
        {
            var found = chunk[from..].IndexOf(lengthField);
            if (found < 0 || from + found + WalFormat.BatchRecordBytes > chunk.Length)
            {
                return null;
            }

            var at = from + found;
            var candidate = chunk.Slice(at, WalFormat.BatchRecordBytes);
            if (candidate[WalFormat.RecordPrefixBytes] == (byte)WalRecordType.Batch
                && WalFormat.IsIntact(candidate, salt, position + at)
                && WalFormat.TryReadBatchPayload(candidate[(WalFormat.RecordPrefixBytes + 1)..], out var durable)
                && durable > end)
            {
                return position + at;
            }

            from = at + 1;
        }

        return null;
    }

    /// <summary>Removes a torn write, durably, so the next append starts on clean ground: a preallocated segment is
    /// zeroed up to the last non-zero byte (keeping its blocks), any other is truncated.</summary>
    private void CutTornTail(SafeFileHandle handle, string path, long end, long dirtyEnd)
    {
        if (_options.PreallocateSegments)
        {
            WalSegmentWriter.WriteZeros(handle, end, dirtyEnd);
        }
        else
        {
            RandomAccess.SetLength(handle, end);
        }

        _tornBytes += dirtyEnd - end;
        StorageLog.CutTornTail(_logger, _directory, path, end, dirtyEnd - end);
    }

    private static StorageCorruptionException Corrupt(string path, long offset, FormattableString reason) =>
        new(string.Create(CultureInfo.InvariantCulture, $"The storage file {path} is damaged at byte offset {offset}: {reason.ToString(CultureInfo.InvariantCulture)}. It needs an operator: restore the data directory, or wipe it and rejoin the replica as one that lost its disk."), path, offset);
}
