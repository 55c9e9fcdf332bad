using Paxos.Protocol;
using Paxos.Storage;

using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>
/// Recovery from what a crash or a damaged disk leaves: a torn write at the end of the log is cut off at every byte
/// it could stop at; damage before durable data, in a sealed segment or in the <c>view</c> file is refused.
/// </summary>
public class FileReplicaStorageRecoveryTests : TempDirectoryFixture
{
    public enum Damage
    {
        Truncate,
        Zeros,
        Garbage,
    }

    [Test]
    public void A_write_torn_at_any_byte_of_the_last_batch_is_cut_off_and_appending_resumes(
        [Values] bool preallocate, [Values] Damage damage)
    {
        var original = Temp.Sub("original");
        var (before, tail) = WriteLogEndingInOnePendingUpdate(original, preallocate);
        var extra = PendingBatch(1, client: 6, timestamp: 1);
        var after = Describe(Load(Persisted(new InMemoryReplicaStorage(), extra)))[^1];

        var written = File.ReadAllBytes(tail.Segment);
        for (var cut = tail.BatchStart; cut < tail.BatchEnd; cut++)
        {
            // Zeros written over bytes that were zero change nothing: the damage starts at the first one that was not.
            var damaged = cut;
            while (damage == Damage.Zeros && written[damaged] == 0)
            {
                damaged++;
            }

            var copy = Temp.Sub($"cut{cut}");
            CopyDirectory(original, copy);
            Inflict(damage, tail.Segment.Replace(original, copy, StringComparison.Ordinal), cut, tail.BatchEnd);

            using var storage = Open(copy, preallocate, sync: false);
            Describe(Load(storage)).Should().Equal(before, $"the write was torn at offset {cut}");
            var end = damaged >= tail.RecordStart ? tail.RecordStart : tail.BatchStart;
            storage.AppendOffset.Should().Be(end, "the data ends after the last intact record");
            if (damage == Damage.Garbage)
            {
                storage.Counters.LastRecoveryTornBytes.Should().Be(tail.BatchEnd - end);
            }

            NothingButZerosAfter(storage.ActiveSegmentPath!, end);
            Persist(storage, extra);
            Describe(Load(storage)).Should().Equal([.. before, after], $"appending resumed after the cut at {cut}");
            storage.Dispose();
            Directory.Delete(copy, recursive: true);
        }
    }

    [Test]
    public void A_damaged_record_followed_by_durable_batches_is_refused_with_its_file_and_offset(
        [Values] bool preallocate, [Values(0, 3, 8, 20, 25, 40)] int damagedByte)
    {
        var starts = new List<long>();
        string segment;
        using (var storage = Open(Temp.Path, preallocate))
        {
            for (var i = 1; i <= 5; i++)
            {
                starts.Add(storage.AppendOffset);
                Persist(storage, PendingBatch(i, client: i, timestamp: 1, payloadBytes: 30));
            }

            segment = storage.ActiveSegmentPath!;
        }

        // Batch 3: a batch record of 25 bytes, then the pending record.
        FlipByte(segment, starts[2] + damagedByte);

        var expectedOffset = damagedByte < 25 ? starts[2] : starts[2] + 25;
        var thrown = LoadFails();
        thrown.FilePath.Should().Be(segment);
        thrown.Offset.Should().Be(expectedOffset);
        thrown.Message.Should().Contain(Path.GetFileName(segment)).And.Contain($"offset {expectedOffset}");
    }

    [Test]
    public void A_zeroed_stretch_before_durable_batches_is_refused()
    {
        long start;
        long end;
        using (var storage = Open(Temp.Path, preallocate: true))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            start = storage.AppendOffset;
            Persist(storage, PendingBatch(2, 2, 1));
            end = storage.AppendOffset;
            Persist(storage, PendingBatch(3, 3, 1));
            Persist(storage, PendingBatch(4, 4, 1));
        }

        Overwrite(Segment(Temp.Path, 1), start, new byte[end - start]);

        LoadFails().Offset.Should().Be(start, "a zero length marks the end only when nothing durable follows");
    }

    [Test]
    public void A_hole_in_writes_never_synced_is_a_torn_tail_however_much_follows_it()
    {
        // Power loss may persist the pages of unsynced writes in any order: a lost page followed by surviving ones.
        long holeStart;
        List<string> synced;
        using (var storage = Open(Temp.Path, preallocate: true))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            synced = Describe(Load(storage));
            holeStart = storage.AppendOffset;
            Persist(storage, OrderedBatch(2, 1, 1, 1));
            Persist(storage, OrderedBatch(3, 2, 2, 1));
            Persist(storage, OrderedBatch(4, 3, 3, 1));
        }

        Overwrite(Segment(Temp.Path, 1), holeStart, new byte[10]);

        using var reopened = Open(Temp.Path, preallocate: true);
        Describe(Load(reopened)).Should().Equal(synced);
        reopened.Counters.LastRecoveryTornBytes.Should().BePositive();
        NothingButZerosAfter(Segment(Temp.Path, 1), holeStart);
    }

    [Test]
    public void A_hole_before_a_sync_is_damage_once_a_later_batch_records_that_sync()
    {
        long holeStart;
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            holeStart = storage.AppendOffset;
            Persist(storage, OrderedBatch(2, 1, 1, 1));
            Persist(storage, PendingBatch(3, 2, 1));

            // Batch 4 is written after batch 3's fsync, so its batch record says the log is durable past the hole.
            Persist(storage, OrderedBatch(4, 2, 2, 1));
        }

        Overwrite(Segment(Temp.Path, 1), holeStart, new byte[10]);

        LoadFails().Offset.Should().Be(holeStart);
    }

    [Test]
    public void Damage_to_the_last_synced_batch_with_nothing_after_it_looks_like_a_torn_write()
    {
        // The documented limit: without a later batch to vouch for it, the end of the log cannot be told from a
        // torn write. The batch is cut off, as a crash before its fsync completed would have left it.
        long last;
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            last = storage.AppendOffset;
            Persist(storage, PendingBatch(2, 2, 1));
        }

        FlipByte(Segment(Temp.Path, 1), last + 30);

        using var reopened = Open(Temp.Path);
        Load(reopened).PendingUpdates.Should().ContainSingle().Which.ClientId.Should().Be(new ClientId(1));
    }

    [Test]
    public void A_record_that_is_intact_but_unreadable_is_refused()
    {
        long offset;
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            offset = storage.AppendOffset;
        }

        // A well-sealed record of an unknown type: a newer format or a bug, never a torn write.
        var segment = Segment(Temp.Path, 1);
        WalFormat.TryReadSegmentHeader(File.ReadAllBytes(segment), out _, out var salt).Should().BeTrue();
        var record = new byte[12];
        record[8] = 9;
        WalFormat.SealRecord(record, salt, offset);
        Overwrite(segment, offset, record);

        var thrown = LoadFails();
        thrown.Offset.Should().Be(offset);
        thrown.Message.Should().Contain("type 9");
    }

    [Test]
    public void A_batch_larger_than_a_segment_gets_a_segment_of_its_own()
    {
        var memory = new InMemoryReplicaStorage();
        var big = Enumerable.Range(0, 25).Select(i => P(0, 1, 1 + i, U(i + 1, 1, payloadBytes: 50_000))).ToArray();
        using (var storage = Open(Temp.Path, preallocate: true))
        {
            foreach (var batch in new[] { PendingBatch(1, 100, 1), Batch(2, proposals: big), PendingBatch(3, 101, 1) })
            {
                Persist(memory, batch);
                Persist(storage, batch);
            }

            storage.ActiveSegmentPath.Should().Be(Segment(Temp.Path, 3));
        }

        new FileInfo(Segment(Temp.Path, 2)).Length.Should().BeGreaterThan(FileReplicaStorageOptions.MinSegmentBytes);
        using var reopened = Open(Temp.Path, preallocate: true);
        Describe(Load(reopened)).Should().Equal(Describe(Load(memory)));
    }

    [Test]
    public void Damage_in_a_segment_that_is_not_the_last_is_refused_even_at_its_end()
    {
        long last;
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            last = storage.AppendOffset;
            Persist(storage, Batch(2, proposals: [P(0, 1, 1, U(2, 1, payloadBytes: 600_000))]));
            Persist(storage, Batch(3, proposals: [P(0, 1, 2, U(3, 1, payloadBytes: 600_000))]));
        }

        File.Exists(Segment(Temp.Path, 2)).Should().BeTrue();
        FlipByte(Segment(Temp.Path, 1), last + 30);

        var thrown = LoadFails();
        thrown.FilePath.Should().Be(Segment(Temp.Path, 1));
        thrown.Offset.Should().Be(last + 25);
    }

    [TestCase(1)] // The first: without it the replica would come back having forgotten what it accepted there.
    [TestCase(2)]
    public void A_missing_segment_is_refused(int missing)
    {
        using (var storage = Open(Temp.Path))
        {
            for (var i = 1; i <= 3; i++)
            {
                Persist(storage, Batch(i, proposals: [P(0, 1, i, U(i, 1, payloadBytes: 700_000))]));
            }
        }

        File.Delete(Segment(Temp.Path, missing));

        var thrown = LoadFails();
        thrown.FilePath.Should().Be(Segment(Temp.Path, missing));
        thrown.Message.Should().Contain($"segment {missing} is missing");
    }

    [Test]
    public void A_storage_whose_recovery_failed_refuses_every_later_call_and_never_recovers_again()
    {
        // Recovery fsyncs what it read and the repairs it made; after a failed fsync running that again could report
        // success for pages the kernel dropped, so the storage stops at the first failure, as a failed write does.
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
        }

        File.Delete(Segment(Temp.Path, 1));
        File.WriteAllBytes(Temp.File(WalFormat.SegmentFileName(2)), new byte[64]);

        using var failed = Open(Temp.Path);
        FluentActions.Invoking(() => Load(failed)).Should().Throw<StorageCorruptionException>();

        FluentActions.Invoking(() => Load(failed)).Should().Throw<InvalidOperationException>()
            .WithMessage("*stopped after a failed write, fsync or recovery*").WithInnerException<StorageCorruptionException>();
        FluentActions.Invoking(() => Persist(failed, Batch(1, proposals: [P(0, 1, 2, U(2, 1))]))).Should().Throw<InvalidOperationException>();
        File.Exists(Segment(Temp.Path, 1)).Should().BeFalse("a failed recovery is not run again, so it creates nothing");
        File.Exists(Temp.File(WalFormat.SyncFailedFileName)).Should().BeFalse("no fsync failed: damage is refused on every start, a reboot would not mend it");
    }

    [Test]
    public void A_view_file_without_any_segment_is_refused()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, view: new ViewNumber(3), proposals: [P(0, 3, 1, U(1, 1))]));
        }

        foreach (var segment in Directory.GetFiles(Temp.Path, "wal-*.log"))
        {
            File.Delete(segment);
        }

        var thrown = LoadFails();
        thrown.FilePath.Should().Be(Segment(Temp.Path, 1));
        thrown.Message.Should().Contain("view 3").And.Contain("no log segment");
    }

    [TestCase(0)]
    [TestCase(FileReplicaStorageOptions.MinSegmentBytes)]
    public void A_last_segment_whose_creation_was_torn_is_made_anew(long zeros)
    {
        List<string> state;
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
            state = Describe(Load(storage));
        }

        File.WriteAllBytes(Segment(Temp.Path, 2), new byte[zeros]);

        using var reopened = Open(Temp.Path);
        Describe(Load(reopened)).Should().Equal(state);
        Persist(reopened, PendingBatch(1, 2, 1));
        reopened.ActiveSegmentPath.Should().Be(Segment(Temp.Path, 2));
        Load(reopened).PendingUpdates.Should().HaveCount(2);
    }

    [Test]
    public void A_restart_after_the_disk_filled_up_at_a_segment_roll_needs_no_free_space()
    {
        var memory = new InMemoryReplicaStorage();
        using (var storage = Open(Temp.Path, preallocate: false))
        {
            foreach (var batch in new[] { PendingBatch(1, 1, 1), Batch(2, proposals: [P(0, 1, 1, U(2, 1, payloadBytes: 700_000))]) })
            {
                Persist(memory, batch);
                Persist(storage, batch);
            }

            // The next batch rolls to segment 2. Without preallocation its header is the file's first block, which a
            // full disk refuses: the roll leaves segment 2 empty, and the storage stops.
            WhileTheDiskIsFull(() => FluentActions.Invoking(() => Persist(storage, Batch(3, proposals: [P(0, 1, 2, U(3, 1, payloadBytes: 700_000))])))
                .Should().Throw<IOException>().WithMessage("*No space left on device*"));
        }

        new FileInfo(Segment(Temp.Path, 2)).Length.Should().Be(0, "the roll created the file but could not write its header");

        using (var restarted = Open(Temp.Path, preallocate: false))
        {
            WhileTheDiskIsFull(() => Describe(Load(restarted)).Should().Equal(Describe(Load(memory)),
                "a segment that never got its header holds nothing, and reading the log needs no space"));

            // Once there is space again, the segment gets its header with its first records.
            Persist(restarted, PendingBatch(1, 4, 1));
            restarted.ActiveSegmentPath.Should().Be(Segment(Temp.Path, 2));
        }

        Persist(memory, PendingBatch(3, 4, 1));
        WalFormat.TryReadSegmentHeader(File.ReadAllBytes(Segment(Temp.Path, 2)), out var number, out _).Should().BeTrue();
        number.Should().Be(2);
        using var reopened = Open(Temp.Path, preallocate: false);
        Describe(Load(reopened)).Should().Equal(Describe(Load(memory)));
    }

    [Test]
    public void A_damaged_segment_header_with_data_after_it_is_refused()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
        }

        FlipByte(Segment(Temp.Path, 1), 10);

        LoadFails().Offset.Should().Be(0);
    }

    [Test]
    public void A_segment_under_another_segment_s_name_is_refused()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
        }

        File.Copy(Segment(Temp.Path, 1), Segment(Temp.Path, 2));

        LoadFails().Message.Should().Contain("names segment 1");
    }

    private static InMemoryReplicaStorage Persisted(InMemoryReplicaStorage storage, OutputBatch batch)
    {
        Persist(storage, batch);
        return storage;
    }

    /// <summary>Writes three batches of every kind, then a last batch holding one pending update, and says where that
    /// last batch lies.</summary>
    private static (List<string> Before, (string Segment, long BatchStart, long RecordStart, long BatchEnd) Tail) WriteLogEndingInOnePendingUpdate(string directory, bool preallocate)
    {
        using var storage = Open(directory, preallocate);
        Persist(storage, Batch(1, view: new ViewNumber(3), proposals: [P(0, 3, 1, U(1, 1), U(2, 1))]));
        Persist(storage, Batch(2, ordered: [new OrderedSlot(new SequenceNumber(1), U(1, 1)), new OrderedSlot(new SequenceNumber(2), ClientUpdate.NoOp)]));
        Persist(storage, PendingBatch(3, 4, 1));
        var before = Describe(Load(storage));
        var start = storage.AppendOffset;
        Persist(storage, PendingBatch(4, 5, 7, payloadBytes: 20));
        return (before, (storage.ActiveSegmentPath!, start, start + WalFormat.BatchRecordBytes, storage.AppendOffset));
    }

    private static void Inflict(Damage damage, string segment, long cut, long batchEnd)
    {
        switch (damage)
        {
            case Damage.Truncate:
                using (var stream = new FileStream(segment, FileMode.Open, FileAccess.Write))
                {
                    stream.SetLength(cut);
                }

                break;
            case Damage.Zeros:
                Overwrite(segment, cut, new byte[batchEnd - cut]);
                break;
            default:
                var garbage = new byte[batchEnd - cut];
                new Random((int)cut).NextBytes(garbage);
                for (var i = 0; i < garbage.Length; i++)
                {
                    garbage[i] |= 0x01;
                }

                Overwrite(segment, cut, garbage);
                break;
        }
    }

    /// <summary>Runs <paramref name="action"/> with every write to the log failing as it does on a full disk.</summary>
    private static void WhileTheDiskIsFull(Action action)
    {
        DurableIo.InjectedWriteFailure.Value = path => new IOException($"No space left on device : '{path}' (injected ENOSPC)");
        try
        {
            action();
        }
        finally
        {
            DurableIo.InjectedWriteFailure.Value = null;
        }
    }

    private StorageCorruptionException LoadFails()
    {
        using var storage = Open(Temp.Path);
        return FluentActions.Invoking(() => Load(storage)).Should().Throw<StorageCorruptionException>().Which;
    }

    private static void FlipByte(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var value = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(value ^ 0x5A));
    }

    private static void Overwrite(string path, long offset, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        stream.Write(bytes);
    }

    private static void NothingButZerosAfter(string path, long offset)
    {
        var bytes = File.ReadAllBytes(path);
        bytes.Length.Should().BeGreaterThanOrEqualTo((int)offset);
        bytes.AsSpan((int)offset).IndexOfAnyExcept((byte)0).Should().Be(-1, "a repaired tail holds nothing a later scan could mistake for data");
    }
}
