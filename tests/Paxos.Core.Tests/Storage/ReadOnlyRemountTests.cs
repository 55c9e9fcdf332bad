using System.Diagnostics;
using Paxos.Storage;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>
/// A real ext4 file system that hits an error and remounts itself read-only while the storage writes to it: every
/// fsync after that returns EROFS, which the storage must take as a failure. Needs root (a loop device and a mount),
/// so it runs only with <c>PAXOS_ROOT_TESTS=1</c>: <c>dotnet test tests/Paxos.Core.Tests --filter TestCategory=Root</c>.
/// </summary>
[Category("Root")]
public class ReadOnlyRemountTests : TempDirectoryFixture
{
    [Test]
    public void An_fsync_after_ext4_remounts_read_only_stops_the_storage()
    {
        if (Environment.GetEnvironmentVariable("PAXOS_ROOT_TESTS") != "1" || !OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            Assert.Ignore("Needs Linux, root, and PAXOS_ROOT_TESTS=1 (it loop-mounts an ext4 image).");
        }

        var image = Temp.File("ext4.img");
        var mount = Temp.Sub("mnt");
        Directory.CreateDirectory(mount);
        using (var file = File.Create(image))
        {
            file.SetLength(16 << 20);
        }

        Run("mkfs.ext4", "-q", "-F", image);
        Run("mount", "-o", "loop,errors=remount-ro", image, mount);
        try
        {
            var device = Path.GetFileName(Run("findmnt", "-n", "-o", "SOURCE", mount).Trim());
            using var storage = Open(Path.Combine(mount, "data"));
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));

            // The error strikes after the batch's records were written to the page cache and before their fsync, as
            // a failing disk would have it; the fsync itself is the real system call.
            var armed = true;
            DurableIo.InjectedResult.Value = directory =>
            {
                if (armed && directory is null)
                {
                    armed = false;
                    File.WriteAllText($"/sys/fs/ext4/{device}/trigger_fs_error", "paxos test");
                }

                return null;
            };
            try
            {
                FluentActions.Invoking(() => Persist(storage, Batch(2, proposals: [P(0, 1, 2, U(2, 1))])))
                    .Should().Throw<SyncFailedException>().WithMessage("*errno 30 (EROFS*");
            }
            finally
            {
                DurableIo.InjectedResult.Value = null;
            }

            FluentActions.Invoking(() => Persist(storage, Batch(3, proposals: [P(0, 1, 3, U(3, 1))]))).Should().Throw<InvalidOperationException>();
        }
        finally
        {
            Run("umount", mount);
        }
    }

    private static string Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            Assert.Fail($"{command} {string.Join(' ', arguments)} failed: {error}");
        }

        return output;
    }
}
