using System.Buffers.Binary;
using Paxos.Diagnostics;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>The file storage's contract besides recovery: when it syncs, the <c>view</c> file, options, the
/// directory lock and misuse.</summary>
public class FileReplicaStorageTests : TempDirectoryFixture
{
    // ---- Sync semantics: one fsync per batch that requires one, none otherwise ----

    [Test]
    public void A_batch_that_requires_a_sync_gets_exactly_one_fsync([Values] bool preallocate)
    {
        using var storage = Open(Temp.Path, preallocate);
        Load(storage);
        var counters = storage.Counters;
        var before = counters.Fsyncs;

        Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1), U(2, 1))], pending: [U(3, 1), U(4, 1)], ordered: [new OrderedSlot(new SequenceNumber(1), U(5, 1))]));

        counters.Fsyncs.Should().Be(before + 1, "one fsync covers the whole batch (group commit)");
        counters.BatchesPersisted.Should().Be(1);
        counters.RecordsWritten.Should().Be(4, "a Proposal, two pending updates and one run of ordered slots");
        counters.FsyncTimeTicks.Should().BePositive();
    }

    [Test]
    public void A_write_buffer_grown_by_a_large_batch_shrinks_back_once_batches_are_small_again()
    {
        using var storage = Open(Temp.Path, segmentBytes: 16L << 20);
        Load(storage);

        Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1, payloadBytes: 600_000))]));
        storage.WriteBufferBytes.Should().BeGreaterThan(600_000, "the batch is written with one write from the buffer");

        // The write that carried the large batch counts as the first of the writes since it.
        for (var i = 2; i < WalSegmentWriter.ShrinkAfterWrites; i++)
        {
            Persist(storage, Batch(i, proposals: [P(0, 1, i, U(i, 1))]));
        }

        storage.WriteBufferBytes.Should().BeGreaterThan(600_000, "one write fewer than the threshold keeps it");
        Persist(storage, Batch(WalSegmentWriter.ShrinkAfterWrites, proposals: [P(0, 1, 100, U(100, 1))]));
        storage.WriteBufferBytes.Should().Be(WalSegmentWriter.WriteBufferBytes);

        storage.Dispose();
        using var reopened = Open(Temp.Path);
        Load(reopened).AcceptedProposals.Should().HaveCount(WalSegmentWriter.ShrinkAfterWrites, "every batch was written, before and after the buffer shrank");
    }

    [Test]
    public void Ordered_slots_alone_are_written_without_a_sync_and_the_next_sync_covers_them()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var counters = storage.Counters;
        var before = counters.Fsyncs;

        Persist(storage, OrderedBatch(1, 1, 1, 1));
        Persist(storage, OrderedBatch(2, 2, 2, 1));

        counters.Fsyncs.Should().Be(before);
        counters.BatchesPersisted.Should().Be(2);
        new FileInfo(storage.ActiveSegmentPath!).Length.Should().Be(storage.AppendOffset, "the records are written, only not synced");

        Persist(storage, PendingBatch(3, 3, 1));

        counters.Fsyncs.Should().Be(before + 1);
    }

    [Test]
    public void Batches_persisted_together_share_one_fsync_and_hold_what_persisting_them_one_by_one_holds()
    {
        var batches = new[]
        {
            Batch(1, view: new ViewNumber(1), proposals: [P(0, 1, 1, U(1, 1))]),
            OrderedBatch(2, 1, 1, 1),
            PendingBatch(3, 7, 1),
            Batch(4, proposals: [P(0, 1, 2, U(2, 1), U(3, 1))], ordered: [new OrderedSlot(new SequenceNumber(2), U(2, 1))]),
        };
        var separately = Temp.Sub("separately");
        long separateFsyncs;
        using (var storage = Open(separately))
        {
            Load(storage);
            var start = storage.Counters.Fsyncs;
            foreach (var batch in batches)
            {
                Persist(storage, batch);
            }

            separateFsyncs = storage.Counters.Fsyncs - start;
        }

        using var together = Open(Temp.Sub("together"));
        Load(together);
        var before = together.Counters.Fsyncs;

        together.PersistAll(batches);

        // Batches 1, 3 and 4 require a sync: three fsyncs of the log one by one, one together (the view file's own
        // fsyncs are the same either way).
        together.Counters.Fsyncs.Should().Be(before + separateFsyncs - 2, "the log is fsynced once, at the end");
        together.Counters.BatchesPersisted.Should().Be(4);
        using var reopened = Open(separately);
        Describe(Load(together)).Should().Equal(Describe(Load(reopened)));
    }

    [Test]
    public void Batches_persisted_together_without_one_that_requires_a_sync_are_not_fsynced()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var before = storage.Counters.Fsyncs;

        storage.PersistAll([OrderedBatch(1, 1, 1, 1), OrderedBatch(2, 2, 2, 1)]);
        storage.Counters.Fsyncs.Should().Be(before);

        storage.PersistAll([OrderedBatch(3, 3, 3, 1), PendingBatch(4, 4, 1), OrderedBatch(5, 4, 5, 1)]);
        storage.Counters.Fsyncs.Should().Be(before + 1, "a batch that requires a sync makes the whole group durable, once");
    }

    [Test]
    public void Batches_persisted_together_must_come_in_order()
    {
        using var storage = Open(Temp.Path);
        Load(storage);

        var act = () => storage.PersistAll([PendingBatch(2, 1, 1), PendingBatch(1, 2, 1)]);

        act.Should().Throw<InvalidOperationException>().WithMessage("*in order*");
    }

    [Test]
    public void Batches_with_nothing_durable_write_nothing()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var counters = storage.Counters;
        var (fsyncs, offset) = (counters.Fsyncs, storage.AppendOffset);
        var messagesOnly = new OutputBatch(1);
        messagesOnly.AddMessage(new OutboundMessage(ReplicaId.None, new ViewChange(new ReplicaId(0), new ViewNumber(1))));

        Persist(storage, messagesOnly);
        Persist(storage, new OutputBatch(0));
        Persist(storage, new OutputBatch(2));

        counters.Fsyncs.Should().Be(fsyncs);
        counters.BatchesPersisted.Should().Be(0);
        counters.BytesWritten.Should().Be(0);
        storage.AppendOffset.Should().Be(offset);
    }

    [Test]
    public void Installing_a_view_replaces_the_view_file_with_its_own_fsyncs()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var counters = storage.Counters;
        var before = counters.Fsyncs;

        Persist(storage, Batch(1, view: new ViewNumber(4)));
        var viewOnly = counters.Fsyncs - before;
        Persist(storage, Batch(2, view: new ViewNumber(5), proposals: [P(2, 5, 1, U(1, 1))]));
        var viewAndProposal = counters.Fsyncs - before - viewOnly;

        // view.tmp, then the directory after the rename; the log only when it holds something new.
        viewOnly.Should().Be(2);
        viewAndProposal.Should().Be(3);
        File.Exists(Temp.File("view.tmp")).Should().BeFalse();
        File.ReadAllBytes(Temp.File("view")).Should().HaveCount(28);
        Load(storage).LastInstalled.Should().Be(new ViewNumber(5));
    }

    [Test]
    public void Last_Attempted_is_stored_in_the_view_file_and_never_falls()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, new OutputBatch(1) { AttemptedView = new ViewNumber(6) });
            Persist(storage, Batch(2, view: new ViewNumber(3)));
        }

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);
        state.LastInstalled.Should().Be(new ViewNumber(3));
        state.LastAttempted.Should().Be(new ViewNumber(6), "installing view 3 does not lower the attempt at view 6");
    }

    [Test]
    public void A_version_1_view_file_is_read_with_Last_Attempted_equal_to_Last_Installed()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(1, view: new ViewNumber(4)));
        }

        // The 20-byte layout of version 1: magic, version 1, reserved, Last_Installed, CRC-32C of [0, 16).
        var file = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(file, 0x5756_5850);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), 1);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(8), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16), Crc32C.Compute(file.AsSpan(0, 16)));
        File.WriteAllBytes(Temp.File("view"), file);

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);
        state.LastInstalled.Should().Be(new ViewNumber(4));
        state.LastAttempted.Should().Be(new ViewNumber(4));
    }

    [Test]
    public void A_view_file_of_a_newer_version_is_refused_naming_the_version()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(1, view: new ViewNumber(4)));
        }

        var file = File.ReadAllBytes(Temp.File("view"));
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), Crc32C.Compute(file.AsSpan(0, 24)));
        File.WriteAllBytes(Temp.File("view"), file);

        using var reopened = Open(Temp.Path);
        var act = () => Load(reopened);
        act.Should().Throw<IOException>().WithMessage("*format version 3, newer than*(up to 2)*");
    }

    [Test]
    public void With_sync_disabled_nothing_is_fsynced_but_everything_is_written()
    {
        using (var storage = Open(Temp.Path, preallocate: true, sync: false))
        {
            Persist(storage, Batch(1, view: new ViewNumber(2), pending: [U(1, 1)]));
            Persist(storage, PendingBatch(2, 2, 1));

            storage.Counters.Fsyncs.Should().Be(0);
            storage.Counters.FsyncTimeTicks.Should().Be(0);
            storage.Counters.BatchesPersisted.Should().Be(2);
        }

        using var reopened = Open(Temp.Path);
        var state = Load(reopened);
        state.LastInstalled.Should().Be(new ViewNumber(2));
        state.PendingUpdates.Should().HaveCount(2);
    }

    [Test]
    public void The_counters_count_records_and_bytes()
    {
        using var storage = Open(Temp.Path);
        Load(storage);

        Persist(storage, PendingBatch(1, 1, 1, payloadBytes: 10));

        // A batch record (8 + 17) and a pending record (8 + type + 24-byte update header + payload).
        storage.Counters.BytesWritten.Should().Be(25 + 8 + 1 + 24 + 10);
        storage.Counters.RecordsWritten.Should().Be(1);
    }

    // ---- The view file ----

    [Test]
    public void A_lower_view_does_not_replace_a_higher_one()
    {
        var memory = new InMemoryReplicaStorage();
        using var storage = Open(Temp.Path);
        foreach (var batch in new[] { Batch(1, view: new ViewNumber(7)), Batch(2, view: new ViewNumber(3)) })
        {
            Persist(memory, batch);
            Persist(storage, batch);
        }

        Load(storage).LastInstalled.Should().Be(Load(memory).LastInstalled).And.Be(new ViewNumber(7));
    }

    [Test]
    public void A_leftover_view_tmp_is_ignored_and_removed()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, view: new ViewNumber(6)));
        }

        // A crash between writing view.tmp and renaming it: the batch was never acknowledged.
        File.WriteAllBytes(Temp.File("view.tmp"), [1, 2, 3]);

        using var reopened = Open(Temp.Path);
        Load(reopened).LastInstalled.Should().Be(new ViewNumber(6));
        File.Exists(Temp.File("view.tmp")).Should().BeFalse();
    }

    [Test]
    public void No_view_file_means_view_zero()
    {
        using var storage = Open(Temp.Path);

        var state = Load(storage);

        state.IsEmpty.Should().BeTrue();
        state.LastInstalled.Should().Be(ViewNumber.None);
    }

    [TestCase(9)]
    [TestCase(16)]
    [TestCase(-1)]
    public void A_damaged_view_file_is_refused(int damage)
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, view: new ViewNumber(6)));
        }

        var view = Temp.File("view");
        var bytes = File.ReadAllBytes(view);
        if (damage < 0)
        {
            bytes = bytes[..12];
        }
        else
        {
            bytes[damage] ^= 0x10;
        }

        File.WriteAllBytes(view, bytes);

        using var reopened = Open(Temp.Path);
        var thrown = FluentActions.Invoking(() => Load(reopened)).Should().Throw<StorageCorruptionException>().Which;
        thrown.FilePath.Should().Be(view);
        thrown.Offset.Should().Be(0);
        thrown.Message.Should().Contain("view");
    }

    // ---- Options, lock, misuse ----

    [TestCase("", 1L << 20, "DataDirectory")]
    [TestCase("   ", 1L << 20, "DataDirectory")]
    [TestCase("x", (1L << 20) - 1, "SegmentBytes")]
    [TestCase("x", (1L << 30) + 1, "SegmentBytes")]
    public void Invalid_options_fail_with_a_message_naming_the_option(string directory, long segmentBytes, string option)
    {
        var options = new FileReplicaStorageOptions { DataDirectory = directory, SegmentBytes = segmentBytes };

        FluentActions.Invoking(() => new FileReplicaStorage(options)).Should().Throw<ArgumentException>().WithMessage($"*{option}*");
    }

    [Test]
    public void The_options_have_the_documented_defaults()
    {
        var options = new FileReplicaStorageOptions();

        options.SegmentBytes.Should().Be(64L << 20);
        options.PreallocateSegments.Should().BeTrue();
        options.SyncEnabled.Should().BeTrue();
    }

    [Test]
    public void A_missing_directory_is_created()
    {
        var directory = Path.Combine(Temp.Path, "a", "b");

        using var storage = Open(directory);

        Directory.Exists(directory).Should().BeTrue();
        storage.DataDirectory.Should().Be(directory);
    }

    [Test]
    public void A_created_directory_is_made_durable_in_its_parent_one_level_at_a_time()
    {
        Assume.That(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD(), "directories are fsynced on Unix only");
        var directory = Path.Combine(Temp.Path, "a", "b", "data");
        var synced = new List<string>();
        DurableIo.InjectedResult.Value = flushed =>
        {
            if (flushed is not null)
            {
                synced.Add(flushed);
            }

            return null;
        };
        try
        {
            using (Open(directory))
            {
                synced.Should().Equal([Temp.Path, Temp.Sub("a"), Path.Combine(Temp.Path, "a", "b")],
                    "each new entry is durable before the next level is created in it, and a power loss loses none");
            }

            synced.Clear();
            using (Open(directory))
            {
                synced.Should().BeEmpty("no entry was added");
            }
        }
        finally
        {
            DurableIo.InjectedResult.Value = null;
        }
    }

    [Test]
    public void A_second_storage_on_the_same_directory_is_refused_until_the_first_is_disposed()
    {
        var first = Open(Temp.Path);

        FluentActions.Invoking(() => Open(Temp.Path)).Should().Throw<IOException>().WithMessage("*in use*");

        first.Dispose();
        first.Dispose();
        using var second = Open(Temp.Path);
        Load(second).IsEmpty.Should().BeTrue();
    }

    [Test]
    public void A_disposed_storage_refuses_calls()
    {
        var storage = Open(Temp.Path);
        storage.Dispose();

        FluentActions.Invoking(() => Persist(storage, PendingBatch(1, 1, 1))).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(() => Load(storage)).Should().Throw<ObjectDisposedException>();
    }

    [Test]
    public void Batches_must_come_in_order()
    {
        using var storage = Open(Temp.Path);
        Persist(storage, PendingBatch(2, 1, 1));

        FluentActions.Invoking(() => Persist(storage, PendingBatch(2, 1, 2))).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(() => Persist(storage, PendingBatch(1, 1, 2))).Should().Throw<InvalidOperationException>();
    }

    [Test]
    public void A_batch_the_log_cannot_hold_is_refused_before_anything_is_written()
    {
        using var storage = Open(Temp.Path);
        Load(storage);
        var offset = storage.AppendOffset;
        var bad = new OutputBatch(1);
        bad.AddPendingUpdate(U(1, 1));
        bad.AddPendingUpdate(ClientUpdate.NoOp);

        FluentActions.Invoking(() => Persist(storage, bad)).Should().Throw<ArgumentException>();

        storage.AppendOffset.Should().Be(offset);
        Persist(storage, PendingBatch(2, 1, 1));
        Load(storage).PendingUpdates.Should().ContainSingle();
    }

    [Test]
    public void Persisting_without_loading_first_appends_after_what_is_there()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, PendingBatch(1, 1, 1));
        }

        using var reopened = Open(Temp.Path);
        Persist(reopened, PendingBatch(1, 2, 1));

        Load(reopened).PendingUpdates.Select(u => u.ClientId.Value).Should().Equal(1, 2);
    }

    [Test]
    public void Pending_updates_keep_the_last_per_client_in_first_appearance_order()
    {
        var memory = new InMemoryReplicaStorage();
        using var storage = Open(Temp.Path);
        var batches = new[]
        {
            Batch(1, pending: [U(5, 1), U(3, 1)]),
            Batch(2, pending: [U(5, 2), U(9, 1), U(3, 2)]),
            Batch(3, pending: [U(3, 3)]),
        };
        foreach (var batch in batches)
        {
            Persist(memory, batch);
            Persist(storage, batch);
        }

        Describe(Load(storage)).Should().Equal(Describe(Load(memory)));
        Load(storage).PendingUpdates.Select(Describe).Should().Equal(Describe(U(5, 2)), Describe(U(3, 3)), Describe(U(9, 1)));
    }

    // ---- Zeros written ahead of the appends ----

    [Test]
    public void Zeros_written_ahead_of_a_preallocated_segments_appends_never_cover_a_record()
    {
        // A 4 MiB segment is written with zeros a 1 MiB chunk at a time; batches of uneven sizes straddle the chunk
        // boundaries, and a restart in the middle of a chunk continues from the recovered end.
        const long segmentBytes = 4L << 20;
        var memory = new InMemoryReplicaStorage();
        var storage = Open(Temp.Path, preallocate: true, sync: false, segmentBytes: segmentBytes);
        var restarted = false;
        try
        {
            Load(storage);
            for (var number = 1L; storage.AppendOffset < 3L * WalSegmentWriter.ZeroChunkBytes + 1000; number++)
            {
                var batch = Batch(number, pending: [U(number, 1, payloadBytes: 700 + (int)(number * 977 % 9000))]);
                Persist(memory, batch);
                Persist(storage, batch);
                if (!restarted && storage.AppendOffset > WalSegmentWriter.ZeroChunkBytes + (WalSegmentWriter.ZeroChunkBytes / 3))
                {
                    restarted = true;
                    storage.Dispose();
                    storage = Open(Temp.Path, preallocate: true, sync: false, segmentBytes: segmentBytes);
                    Load(storage);
                }
            }

            var end = storage.AppendOffset;
            storage.Dispose();
            new FileInfo(Segment(Temp.Path, 1)).Length.Should().Be(segmentBytes, "the appends stayed inside the preallocated segment");
            File.ReadAllBytes(Segment(Temp.Path, 1)).AsSpan((int)end).IndexOfAnyExcept((byte)0).Should().Be(-1);
            storage = Open(Temp.Path, preallocate: true, sync: false, segmentBytes: segmentBytes);
            Describe(Load(storage)).Should().Equal(Describe(Load(memory)));
            storage.Counters.LastRecoveryTornBytes.Should().Be(0);
            restarted.Should().BeTrue();
        }
        finally
        {
            storage.Dispose();
        }
    }
}
