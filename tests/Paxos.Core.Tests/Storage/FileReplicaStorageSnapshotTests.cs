using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using static Paxos.Tests.Storage.SnapshotTestSupport;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>The file storage's snapshots: written durably, two kept, the log released against the older one,
/// recovery's fallback and refusal, state transfer's chunks, and a write beside a busy log.</summary>
public class FileReplicaStorageSnapshotTests : TempDirectoryFixture
{
    /// <summary>A payload that fills about a fifth of a 1 MiB segment.</summary>
    private const int LargePayloadBytes = 200_000;

    [Test]
    public void A_snapshot_is_written_as_a_file_read_back_in_chunks_and_the_two_newest_are_kept()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        storage.NewestSnapshot.Should().BeNull();

        for (var i = 1; i <= 3; i++)
        {
            Persist(storage, PendingBatch(i, i, 1));
            storage.WriteSnapshot(Taken(sequence: 100 * i, batch: i, executorBytes: 30_000));
        }

        SnapshotFileNames().Should().Equal("snapshot-000000000200.snap", "snapshot-000000000300.snap");
        Directory.GetFiles(Temp.Path, "*.tmp").Should().BeEmpty();
        var path = Temp.File("snapshot-000000000300.snap");
        storage.NewestSnapshot.Should().Be((new SequenceNumber(300), new FileInfo(path).Length));
        ReadAll(storage, new SequenceNumber(300), chunkBytes: 7_000).Should().Equal(File.ReadAllBytes(path));
        storage.ReadSnapshot(new SequenceNumber(100), 0, new byte[10]).Should().Be(-1, "that snapshot is no longer kept");
        storage.ReadSnapshot(new SequenceNumber(300), new FileInfo(path).Length, new byte[10]).Should().Be(0, "the end of the file");
        storage.Counters.SnapshotsWritten.Should().Be(3);
    }

    [Test]
    public void Restart_returns_the_newest_snapshot_and_the_log_after_it_once_the_log_is_released()
    {
        var memory = new InMemoryReplicaStorage();
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Load(memory);
            PersistBoth(storage, memory, 1, 10, firstSlot: 1); // Slots 1–10, batches 1–10.
            storage.WriteSnapshot(Taken(sequence: 6, batch: 7)); // The only snapshot: nothing is released.
            storage.Counters.SegmentsReleased.Should().Be(0);
            PersistBoth(storage, memory, 11, 20, firstSlot: 11);
            storage.WriteSnapshot(Taken(sequence: 16, batch: 17)); // Releases against the snapshot of slot 6.

            storage.Counters.SegmentsReleased.Should().BePositive();
            File.Exists(Segment(Temp.Path, 1)).Should().BeFalse("segment 1 holds only batches before 7 and slots up to 5");
        }

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);

        state.Snapshot!.State.Sequence.Value.Should().Be(16);
        using (var executor = state.Snapshot.OpenExecutorState())
        {
            PatternSnapshot.ReadAndCheck(executor, 1000);
        }

        After(16, state).Should().Equal(After(16, Load(memory)), "the log holds everything after the snapshot");
        After(6, state).Should().Equal(After(6, Load(memory)), "and everything after the older one, for a fallback");
    }

    [Test]
    public void A_damaged_newest_snapshot_falls_back_to_the_older_one_and_the_log_after_it()
    {
        var memory = new InMemoryReplicaStorage();
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Load(memory);
            PersistBoth(storage, memory, 1, 10, firstSlot: 1);
            storage.WriteSnapshot(Taken(sequence: 6, batch: 7));
            PersistBoth(storage, memory, 11, 20, firstSlot: 11);
            storage.WriteSnapshot(Taken(sequence: 16, batch: 17));
        }

        FlipByte(Temp.File("snapshot-000000000016.snap"), 200);
        using var reopened = Open(Temp.Path);
        var state = Load(reopened);

        state.Snapshot!.State.Sequence.Value.Should().Be(6);
        File.Exists(Temp.File("snapshot-000000000016.snap.damaged")).Should().BeTrue("the damaged one is set aside, not deleted");
        reopened.NewestSnapshot!.Value.Sequence.Value.Should().Be(6);
        After(6, state).Should().Equal(After(6, Load(memory)));
    }

    [Test]
    public void Both_snapshots_damaged_after_the_log_was_released_is_a_clear_refusal()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            PersistBoth(storage, new InMemoryReplicaStorage(), 1, 10, firstSlot: 1);
            storage.WriteSnapshot(Taken(sequence: 6, batch: 7));
            PersistBoth(storage, new InMemoryReplicaStorage(), 11, 20, firstSlot: 11);
            storage.WriteSnapshot(Taken(sequence: 16, batch: 17));
        }

        FlipByte(Temp.File("snapshot-000000000016.snap"), 40);
        FlipByte(Temp.File("snapshot-000000000006.snap"), 40);
        using var reopened = Open(Temp.Path);

        var thrown = FluentActions.Invoking(() => Load(reopened)).Should().Throw<StorageCorruptionException>().Which;

        thrown.Message.Should().Contain("needs a snapshot").And.Contain("every snapshot is damaged").And.Contain("snapshot-000000000016.snap");
        var first = Directory.GetFiles(Temp.Path, "wal-*.log").Select(SegmentNumber).Min();
        first.Should().BeGreaterThan(1);
        thrown.FilePath.Should().Be(Segment(Temp.Path, first - 1), "the segment before the log's first is named as missing");
    }

    [Test]
    public void Without_a_release_every_snapshot_may_be_damaged_the_log_alone_is_replayed()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            PersistBoth(storage, new InMemoryReplicaStorage(), 1, 3, firstSlot: 1);
            storage.WriteSnapshot(Taken(sequence: 2, batch: 3));
        }

        FlipByte(Temp.File("snapshot-000000000002.snap"), 40);
        using var reopened = Open(Temp.Path);
        var state = Load(reopened);

        state.Snapshot.Should().BeNull();
        state.AcceptedProposals.Should().HaveCount(3, "the log starts at segment 1, so it holds the whole history");
    }

    [Test]
    public void Snapshots_left_unfinished_by_a_crash_are_ignored_and_deleted()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, PendingBatch(1, 1, 1));
            storage.WriteSnapshot(Taken(sequence: 5, batch: 1));
        }

        var bytes = Bytes(Taken(sequence: 9, batch: 2));
        File.WriteAllBytes(Temp.File("snapshot-000000000009.snap.tmp"), bytes[..(bytes.Length / 2)]);
        File.WriteAllBytes(Temp.File("snapshot-000000000012.partial"), bytes[..10]);
        using var reopened = Open(Temp.Path);
        var state = Load(reopened);

        state.Snapshot!.State.Sequence.Value.Should().Be(5);
        Directory.GetFiles(Temp.Path, "snapshot-*").Select(Path.GetFileName).Should().Equal("snapshot-000000000005.snap");
    }

    [Test]
    public void A_snapshot_received_in_chunks_is_verified_made_durable_and_kept_as_the_newest()
    {
        using var source = Open(Temp.Sub("source"));
        Load(source);
        Persist(source, PendingBatch(1, 1, 1));
        source.WriteSnapshot(Taken(sequence: 40, batch: 1, executorBytes: 250_000, clients: 4));
        var sequence = new SequenceNumber(40);
        var length = source.NewestSnapshot!.Value.Length;
        using var target = Open(Temp.Sub("target"));
        Load(target);
        target.WriteSnapshot(Taken(sequence: 3, batch: 0));

        var chunk = new byte[16_000];
        for (long offset = 0; offset < length;)
        {
            target.ReceivedBytes(sequence).Should().Be(offset);
            var read = source.ReadSnapshot(sequence, offset, chunk);
            target.AppendReceived(sequence, offset, chunk.AsSpan(0, read));
            offset += read;
        }

        var stored = target.CompleteReceived(sequence, length);

        Describe(stored.State).Should().Be(Describe(State(40, clients: 4)));
        using (var executor = stored.OpenExecutorState())
        {
            PatternSnapshot.ReadAndCheck(executor, 250_000);
        }

        target.NewestSnapshot.Should().Be((sequence, length));
        File.ReadAllBytes(Path.Combine(Temp.Sub("target"), "snapshot-000000000040.snap")).Should().Equal(File.ReadAllBytes(Path.Combine(Temp.Sub("source"), "snapshot-000000000040.snap")));
        Directory.GetFiles(Temp.Sub("target"), "*.partial").Should().BeEmpty();
        target.ReceivedBytes(sequence).Should().Be(0);
    }

    [Test]
    public void Received_bytes_must_come_in_order_and_another_snapshot_abandons_the_first()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var bytes = Bytes(Taken(sequence: 40, batch: 1));
        var first = new SequenceNumber(40);
        var second = new SequenceNumber(41);

        storage.AppendReceived(first, 0, bytes.AsSpan(0, 100));
        FluentActions.Invoking(() => storage.AppendReceived(first, 50, bytes.AsSpan(50, 10))).Should().Throw<ArgumentException>().WithMessage("*held up to offset 100*");
        storage.ReceivedBytes(first).Should().Be(100);

        FluentActions.Invoking(() => storage.AppendReceived(second, 10, bytes.AsSpan(0, 10))).Should().Throw<ArgumentException>();
        storage.ReceivedBytes(first).Should().Be(0, "a receive of another snapshot abandons the first");
        Directory.GetFiles(Temp.Path, "*.partial").Should().BeEmpty();
    }

    [TestCase("flipped")]
    [TestCase("short")]
    [TestCase("other sequence")]
    public void Bad_received_bytes_are_refused_and_discarded(string damage)
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var bytes = Bytes(Taken(sequence: damage == "other sequence" ? 41 : 40, batch: 1));
        var sequence = new SequenceNumber(40);
        if (damage == "flipped")
        {
            bytes[bytes.Length / 2] ^= 0x10;
        }

        storage.AppendReceived(sequence, 0, bytes);
        var claimed = damage == "short" ? bytes.Length + 5 : bytes.Length;

        FluentActions.Invoking(() => storage.CompleteReceived(sequence, claimed)).Should().Throw<InvalidDataException>().WithMessage("The received snapshot 40 was discarded*");

        Directory.GetFiles(Temp.Path, "snapshot-*").Should().BeEmpty();
        storage.NewestSnapshot.Should().BeNull();
    }

    [Test]
    public void A_partial_receive_does_not_survive_a_restart()
    {
        var bytes = Bytes(Taken(sequence: 40, batch: 1));
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            storage.AppendReceived(new SequenceNumber(40), 0, bytes.AsSpan(0, 100));
        }

        using var reopened = Open(Temp.Path);
        Load(reopened).Snapshot.Should().BeNull();
        reopened.ReceivedBytes(new SequenceNumber(40)).Should().Be(0, "the transfer starts again from the beginning");
        Directory.GetFiles(Temp.Path, "*.partial").Should().BeEmpty();
    }

    [Test]
    public void Every_batch_of_an_earlier_incarnation_is_older_whatever_its_number()
    {
        var memory = new InMemoryReplicaStorage();
        long activeAtRestart;
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Load(memory);
            PersistBoth(storage, memory, 1, 10, firstSlot: 1); // Incarnation 1: batches 1–10, slots 1–10.
            activeAtRestart = SegmentNumber(storage.ActiveSegmentPath!);

            Load(storage); // Incarnation 2: batch numbers start again.
            Load(memory);
            PersistBoth(storage, memory, 1, 10, firstSlot: 11); // Batches 1–10, slots 11–20.
            storage.WriteSnapshot(Taken(sequence: 13, batch: 4));
            PersistBoth(storage, memory, 11, 15, firstSlot: 21);
            storage.WriteSnapshot(Taken(sequence: 25, batch: 16));

            // Batches 5–10 of incarnation 1 are older than batch 4 of incarnation 2: their segments go.
            for (var number = 1; number < activeAtRestart; number++)
            {
                File.Exists(Segment(Temp.Path, number)).Should().BeFalse($"segment {number} holds only incarnation 1");
            }
        }

        // The fallback to the older snapshot still finds every slot after it.
        File.Delete(Temp.File("snapshot-000000000025.snap"));
        using var reopened = Open(Temp.Path);
        var state = Load(reopened);
        state.Snapshot!.State.Sequence.Value.Should().Be(13);
        After(13, state).Should().Equal(After(13, Load(memory)));
    }

    [Test]
    public void A_snapshot_from_before_a_restart_releases_nothing_written_after_it()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            PersistBoth(storage, new InMemoryReplicaStorage(), 1, 20, firstSlot: 1);
            storage.WriteSnapshot(Taken(sequence: 18, batch: 19));

            // Incarnation 2 writes pending updates (no slot) in batches numbered below 19.
            Load(storage);
            for (var batch = 1; batch <= 10; batch++)
            {
                Persist(storage, Batch(batch, pending: [U(100 + batch, 1, payloadBytes: LargePayloadBytes)]));
            }

            storage.WriteSnapshot(Taken(sequence: 19, batch: 11));
        }

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);

        state.Snapshot!.State.Sequence.Value.Should().Be(19);
        state.PendingUpdates.Select(update => update.ClientId.Value).Should().Contain(Enumerable.Range(101, 10).Select(client => (long)client),
            "a snapshot recovered from disk does not say where it was taken, so it releases nothing");
    }

    [Test]
    public void Snapshots_written_on_another_thread_while_batches_are_persisted_keep_the_log_whole()
    {
        const int batches = 400;
        using var storage = Open(Temp.Path);
        Load(storage);
        long durable = 0;
        using var snapshotWritten = new SemaphoreSlim(0);
        var writer = Task.Run(() =>
        {
            for (var batch = 1; batch <= batches; batch++)
            {
                var group = new[] { Batch(batch, proposals: [P(0, 1, batch, U(batch % 50 + 1, batch, payloadBytes: 20_000))]) };
                storage.PersistAll(group);
                Volatile.Write(ref durable, batch);
                if (batch % 50 == 0)
                {
                    // Let a snapshot in now and then, however the threads are scheduled (bounded: a stuck writer fails below).
                    snapshotWritten.Wait(TimeSpan.FromSeconds(10));
                }
            }
        });

        var written = new List<long>();
        while (!writer.IsCompleted)
        {
            var batch = Volatile.Read(ref durable);
            if (batch > 1 && (written.Count == 0 || batch > written[^1] + 20))
            {
                // Taken in a durable batch, covering the slots before it.
                storage.WriteSnapshot(Taken(sequence: batch - 1, batch: batch, executorBytes: 200_000));
                written.Add(batch);
                snapshotWritten.Release();
            }

            Thread.Yield();
        }

        writer.GetAwaiter().GetResult();
        written.Should().HaveCountGreaterThan(2, "snapshots were written while batches were persisted");
        storage.Counters.SegmentsReleased.Should().BePositive();
        storage.Dispose();

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);
        var older = written[^2] - 1;
        state.Snapshot!.State.Sequence.Value.Should().Be(written[^1] - 1);
        state.AcceptedProposals.Select(proposal => proposal.FirstSequence.Value).Where(slot => slot > older)
            .Should().Equal(Enumerable.Range((int)older + 1, batches - (int)older).Select(slot => (long)slot));
    }

    // ---- Helpers ----

    /// <summary>Persists batches <paramref name="fromBatch"/>–<paramref name="toBatch"/> to both storages, each a
    /// large Proposal of one slot (from <paramref name="firstSlot"/> on) and its ordered slot.</summary>
    private static void PersistBoth(FileReplicaStorage storage, InMemoryReplicaStorage memory, int fromBatch, int toBatch, long firstSlot)
    {
        for (var batch = fromBatch; batch <= toBatch; batch++)
        {
            var slot = firstSlot + batch - fromBatch;
            var update = U(slot, 1, payloadBytes: LargePayloadBytes);
            OutputBatch Make() => Batch(batch, proposals: [P(0, 1, slot, update)], ordered: [new OrderedSlot(new SequenceNumber(slot), update)]);
            Persist(storage, Make());
            Persist(memory, Make());
        }
    }

    /// <summary>The Proposals and ordered slots of a state above <paramref name="sequence"/>.</summary>
    private static List<string> After(long sequence, PersistentState state)
    {
        var lines = new List<string>();
        foreach (var proposal in state.AcceptedProposals.Where(proposal => proposal.FirstSequence.Value + proposal.Updates.Count - 1 > sequence))
        {
            lines.Add($"proposal v={proposal.View.Value} first={proposal.FirstSequence.Value} [{string.Join(' ', proposal.Updates.Select(StorageTestSupport.Describe))}]");
        }

        foreach (var slot in state.OrderedSlots.Where(slot => slot.Sequence.Value > sequence))
        {
            lines.Add($"ordered {slot.Sequence.Value} {StorageTestSupport.Describe(slot.Update)}");
        }

        return lines;
    }

    private static byte[] ReadAll(FileReplicaStorage storage, SequenceNumber sequence, int chunkBytes)
    {
        var all = new List<byte>();
        var chunk = new byte[chunkBytes];
        int read;
        while ((read = storage.ReadSnapshot(sequence, all.Count, chunk)) > 0)
        {
            all.AddRange(chunk.AsSpan(0, read).ToArray());
        }

        return [.. all];
    }

    private List<string> SnapshotFileNames() =>
        [.. Directory.GetFiles(Temp.Path, "snapshot-*").Select(path => Path.GetFileName(path)!).Order(StringComparer.Ordinal)];

    private static long SegmentNumber(string path) => long.Parse(Path.GetFileName(path)[4..^4], System.Globalization.CultureInfo.InvariantCulture);

    private static void FlipByte(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var value = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(value ^ 0x5A));
    }
}
