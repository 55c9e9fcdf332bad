using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>After a failed fsync the kernel may cache pages that never reached the disk, marked clean; the storage
/// records the failure in the data directory and refuses the directory until the machine has rebooted.</summary>
public class SyncFailureTests : TempDirectoryFixture
{
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    [Test]
    public void A_failed_fsync_stops_the_storage_and_a_restart_before_a_reboot_is_refused()
    {
        FailOneFsync(Temp.Path);

        var record = Temp.File(WalFormat.SyncFailedFileName);
        File.Exists(record).Should().BeTrue("the failure is recorded where a restart will look");
        var lines = File.ReadAllLines(record);
        lines[0].Should().Be(File.Exists(BootIdPath) ? $"boot {File.ReadAllText(BootIdPath).Trim()}" : "boot unknown");
        lines.Should().Contain(line => line.Contains("EIO (injected)"), "the record keeps the error");

        using var restarted = Open(Temp.Path);
        var refused = FluentActions.Invoking(() => Load(restarted)).Should().Throw<StorageCorruptionException>().Which;
        refused.FilePath.Should().Be(record);
        refused.Message.Should().Contain("failed fsync").And.Contain("EIO (injected)").And.Contain("Reboot the machine first");
        FluentActions.Invoking(() => Persist(restarted, Batch(1, proposals: [P(0, 1, 5, U(5, 1))]))).Should().Throw<InvalidOperationException>()
            .WithMessage("*stopped after a failed write, fsync or recovery*", "a refused directory is not written to either");
        File.Exists(record).Should().BeTrue("only a reboot clears it");
    }

    [Test]
    public void After_a_reboot_the_log_is_recovered_and_the_record_of_the_failed_fsync_is_removed()
    {
        Assume.That(File.Exists(BootIdPath), "needs Linux's boot_id to tell a reboot");
        FailOneFsync(Temp.Path);
        var record = Temp.File(WalFormat.SyncFailedFileName);
        var lines = File.ReadAllLines(record);
        lines[0] = "boot 00000000-0000-0000-0000-000000000000"; // Written in an earlier boot of the machine.
        File.WriteAllLines(record, lines);

        using var rebooted = Open(Temp.Path);
        var state = Load(rebooted);

        state.AcceptedProposals.Should().Contain(p => p.FirstSequence == new SequenceNumber(1), "what was durable before the failure is read back");
        File.Exists(record).Should().BeFalse();
        Persist(rebooted, Batch(1, proposals: [P(0, 1, 9, U(9, 1))]));
    }

    [Test]
    public void A_write_refused_for_a_reason_other_than_an_fsync_leaves_no_record()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(2, proposals: [P(0, 1, 1, U(1, 1))]));
            FluentActions.Invoking(() => Persist(storage, Batch(1, proposals: [P(0, 1, 2, U(2, 1))]))).Should().Throw<InvalidOperationException>();
        }

        File.Exists(Temp.File(WalFormat.SyncFailedFileName)).Should().BeFalse();
        using var restarted = Open(Temp.Path);
        Load(restarted).AcceptedProposals.Should().ContainSingle();
    }

    /// <summary>Persists a durable batch, then fails the next fsync; the storage is disposed afterwards.</summary>
    private static void FailOneFsync(string directory)
    {
        using var storage = Open(directory);
        Load(storage);
        Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));

        DurableIo.InjectedFailure.Value = () => new IOException("EIO (injected)");
        try
        {
            FluentActions.Invoking(() => Persist(storage, Batch(2, proposals: [P(0, 1, 2, U(2, 1))])))
                .Should().Throw<IOException>().WithMessage("An fsync failed: EIO (injected)");
        }
        finally
        {
            DurableIo.InjectedFailure.Value = null;
        }

        FluentActions.Invoking(() => Persist(storage, Batch(3, proposals: [P(0, 1, 3, U(3, 1))]))).Should().Throw<InvalidOperationException>();
    }
}
