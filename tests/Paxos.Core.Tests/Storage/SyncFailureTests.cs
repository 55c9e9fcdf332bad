using Paxos.Storage;

using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>After a failed fsync the kernel may cache pages that never reached the disk, marked clean; the storage
/// records the failure in the data directory and refuses the directory until the machine has rebooted.</summary>
public class SyncFailureTests : TempDirectoryFixture
{
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    private string Record => Temp.File(WalFormat.SyncFailedFileName);

    [Test]
    public void A_failed_fsync_stops_the_storage_and_a_restart_before_a_reboot_is_refused()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
            WithFailingFsync(
                directory => directory is null,
                () => Persist(storage, Batch(2, proposals: [P(0, 1, 2, U(2, 1))])));
            FluentActions.Invoking(() => Persist(storage, Batch(3, proposals: [P(0, 1, 3, U(3, 1))]))).Should().Throw<InvalidOperationException>();
        }

        var lines = File.ReadAllLines(Record);
        lines[0].Should().Be(File.Exists(BootIdPath) ? $"boot {File.ReadAllText(BootIdPath).Trim()}" : "boot unknown");
        lines.Should().Contain(line => line.Contains("errno 5 (EIO"), "the record keeps the error");
        File.Exists(Record + ".tmp").Should().BeFalse("the record is written aside and renamed into place");

        using var restarted = Open(Temp.Path);
        var refused = FluentActions.Invoking(() => Load(restarted)).Should().Throw<IOException>().Which;
        refused.Should().NotBeOfType<SyncFailedException>("the restart is refused; no fsync failed in it");
        refused.Message.Should().Contain("failed fsync").And.Contain("errno 5 (EIO").And.Contain(Record).And.Contain("Reboot the machine first");
        FluentActions.Invoking(() => Persist(restarted, Batch(1, proposals: [P(0, 1, 5, U(5, 1))]))).Should().Throw<InvalidOperationException>()
            .WithMessage("*stopped after a failed write, fsync or recovery*", "a refused directory is not written to either");
        File.Exists(Record).Should().BeTrue("only a reboot clears it");
    }

    [Test]
    public void After_a_reboot_the_log_is_recovered_and_the_record_of_the_failed_fsync_is_removed()
    {
        Assume.That(File.Exists(BootIdPath), "needs Linux's boot_id to tell a reboot");
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
            WithFailingFsync(_ => true, () => Persist(storage, Batch(2, proposals: [P(0, 1, 2, U(2, 1))])));
        }

        var lines = File.ReadAllLines(Record);
        lines[0] = "boot 00000000-0000-0000-0000-000000000000"; // Written in an earlier boot of the machine.
        File.WriteAllLines(Record, lines);

        using var rebooted = Open(Temp.Path);
        var state = Load(rebooted);

        state.AcceptedProposals.Should().Contain(p => p.FirstSequence == new SequenceNumber(1), "what was durable before the failure is read back");
        File.Exists(Record).Should().BeFalse();
        Persist(rebooted, Batch(1, proposals: [P(0, 1, 9, U(9, 1))]));
    }

    [Test]
    public void A_record_that_names_no_boot_is_refused_until_an_operator_deletes_it()
    {
        Directory.CreateDirectory(Temp.Path);
        File.WriteAllText(Record, string.Empty); // As a record whose write failed would have left it, before the rename.

        using var storage = Open(Temp.Path);
        FluentActions.Invoking(() => Load(storage)).Should().Throw<IOException>()
            .WithMessage("*cannot tell whether the machine has restarted since: once it has, delete that file*");
    }

    [Test]
    public void A_failed_directory_fsync_is_recorded_too()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            WithFailingFsync(
                directory => directory is not null,
                () => Persist(storage, Batch(1, view: new ViewNumber(2), proposals: [P(0, 2, 1, U(1, 1))])));
        }

        File.Exists(Record).Should().BeTrue("installing a view renames the view file and fsyncs the directory");
    }

    [Test]
    public void A_failed_fsync_during_recovery_is_recorded()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
        }

        using (var restarted = Open(Temp.Path))
        {
            WithFailingFsync(_ => true, () => Load(restarted));
        }

        File.Exists(Record).Should().BeTrue("recovery fsyncs what it read before it trusts it");
    }

    [Test]
    public void An_fsync_the_kernel_refuses_is_a_failure()
    {
        // fsync(2) on /dev/null fails with EINVAL, as it does on a pipe: a real system call's non-zero result, which
        // RandomAccess.FlushToDisk ignores on Unix (with EROFS and ENOTSUP), so the storage must not call it there.
        Assume.That(OperatingSystem.IsLinux(), "needs Linux's /dev/null, whose fsync fails with EINVAL");
        using var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);

        FluentActions.Invoking(() => DurableIo.FlushFile(handle, syncEnabled: true, new StorageCounters()))
            .Should().Throw<SyncFailedException>().WithMessage("*fsync of a file failed with errno 22 (EINVAL*");
    }

    [Test]
    public void An_fsync_that_returns_EROFS_after_a_read_only_remount_stops_the_storage_and_is_recorded()
    {
        using (var storage = Open(Temp.Path))
        {
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
            WithFsyncResult(directory => directory is null ? ReadOnlyFileSystem : null,
                () => FluentActions.Invoking(() => Persist(storage, Batch(2, proposals: [P(0, 1, 2, U(2, 1))])))
                    .Should().Throw<SyncFailedException>().WithMessage("*fsync of a file failed with errno 30 (EROFS*"));
            FluentActions.Invoking(() => Persist(storage, Batch(3, proposals: [P(0, 1, 3, U(3, 1))]))).Should().Throw<InvalidOperationException>();
        }

        File.ReadAllText(Record).Should().Contain("errno 30 (EROFS");
    }

    [Test]
    public void An_fsync_that_returns_EROFS_during_recovery_is_recorded()
    {
        using (var storage = Open(Temp.Path))
        {
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
        }

        using (var restarted = Open(Temp.Path))
        {
            WithFsyncResult(_ => ReadOnlyFileSystem,
                () => FluentActions.Invoking(() => Load(restarted)).Should().Throw<SyncFailedException>().WithMessage("*errno 30 (EROFS*"));
        }

        File.ReadAllText(Record).Should().Contain("errno 30 (EROFS");
    }

    private const int ReadOnlyFileSystem = 30; // EROFS, the same number on every Unix.

    /// <summary>Runs <paramref name="action"/> with every fsync <paramref name="fails"/> picks (by the directory
    /// flushed, null for a file) returning EIO, and checks that it failed with that error.</summary>
    private static void WithFailingFsync(Func<string?, bool> fails, Action action) =>
        WithFsyncResult(directory => fails(directory) ? 5 : null,
            () => FluentActions.Invoking(action).Should().Throw<SyncFailedException>().WithMessage("An fsync failed: fsync of * failed with errno 5 (EIO*"));

    /// <summary>Runs <paramref name="action"/> with the fsync system call's result replaced by what
    /// <paramref name="result"/> returns for the directory flushed (null for a file); null makes the real call.</summary>
    private static void WithFsyncResult(Func<string?, int?> result, Action action)
    {
        DurableIo.InjectedResult.Value = result;
        try
        {
            action();
        }
        finally
        {
            DurableIo.InjectedResult.Value = null;
        }
    }
}
