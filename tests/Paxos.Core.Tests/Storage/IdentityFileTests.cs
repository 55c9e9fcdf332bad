using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Paxos.Storage;
using Paxos.Transport;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>The data directory records which replica of which cluster it belongs to, and a storage or node refuses a
/// directory recorded for another one, or written in a newer format, with a message that names both values.</summary>
public class IdentityFileTests : TempDirectoryFixture
{
    private static readonly ReplicaIdentity Replica0 = new(7, 3, new ReplicaId(0));

    private string IdentityPath => Temp.File("identity");

    [Test]
    public void The_first_start_records_the_identity_and_later_starts_of_the_same_replica_go_on()
    {
        using (var storage = OpenAs(Replica0))
        {
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
        }

        var bytes = File.ReadAllBytes(IdentityPath);
        bytes.Should().HaveCount(24);
        BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)).Should().Be(7u, "the cluster id");
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(12)).Should().Be(3, "the cluster size");
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(14)).Should().Be(0, "the replica id");
        File.Exists(Temp.File("identity.tmp")).Should().BeFalse("it is written aside and renamed into place");

        using var again = OpenAs(Replica0);
        Load(again).AcceptedProposals.Should().ContainSingle();
    }

    [TestCase(7u, 3, 1, "replica 1 of cluster 7 (3 replicas)")]
    [TestCase(7u, 5, 0, "replica 0 of cluster 7 (5 replicas)")]
    [TestCase(8u, 3, 0, "replica 0 of cluster 8 (3 replicas)")]
    public void A_directory_recorded_for_another_identity_is_refused_before_anything_is_read(uint clusterId, int size, int replica, string other)
    {
        using (var storage = OpenAs(Replica0))
        {
            Load(storage);
            Persist(storage, Batch(1, proposals: [P(0, 1, 1, U(1, 1))]));
        }

        var segment = File.ReadAllBytes(Temp.File(WalFormat.SegmentFileName(1)));
        using var wrong = OpenAs(new ReplicaIdentity(clusterId, size, new ReplicaId(replica)));

        var refused = FluentActions.Invoking(() => Load(wrong)).Should().Throw<IOException>().Which;
        refused.Message.Should().Contain("belongs to replica 0 of cluster 7 (3 replicas)").And.Contain($"started as {other}")
            .And.Contain("point the DataDirectory");
        File.ReadAllBytes(Temp.File(WalFormat.SegmentFileName(1))).Should().Equal(segment, "a refused directory is not repaired or written");
        FluentActions.Invoking(() => Persist(wrong, Batch(1, proposals: [P(0, 1, 2, U(2, 1))]))).Should().Throw<InvalidOperationException>();
    }

    [Test]
    public async Task Replica_1_started_on_replica_0_s_directory_after_a_clean_stop_is_refused()
    {
        var directory = Temp.Sub("r0");
        var network = new InProcessNetwork(3);
        await using (var first = new PaxosNode(NodeOptions(0, directory), new Hosting.RecordingExecutor(), network.CreateTransport(new ReplicaId(0))))
        {
            await first.StartAsync();
            await first.StopAsync();
        }

        await using var second = new PaxosNode(NodeOptions(1, directory), new Hosting.RecordingExecutor(), network.CreateTransport(new ReplicaId(1)));
        var start = () => second.StartAsync();

        (await start.Should().ThrowAsync<IOException>()).Which.Message
            .Should().Contain("belongs to replica 0 of cluster 7 (3 replicas)").And.Contain("started as replica 1 of cluster 7 (3 replicas)");
    }

    [Test]
    public void A_directory_written_before_identity_files_is_recorded_with_a_warning()
    {
        using (var old = Open(Temp.Path))
        {
            Load(old);
            Persist(old, Batch(1, view: new ViewNumber(2), proposals: [P(2, 2, 1, U(1, 1))]));
        }

        File.Exists(IdentityPath).Should().BeFalse("a storage without an identity records none, as the old version did");
        var logger = new CapturingLogger();
        using (var migrated = new FileReplicaStorage(WithIdentity(StorageTestSupport.Options(Temp.Path), Replica0), logger))
        {
            var state = Load(migrated);
            state.LastInstalled.Should().Be(new ViewNumber(2));
            state.AcceptedProposals.Should().ContainSingle();
        }

        File.Exists(IdentityPath).Should().BeTrue();
        logger.Lines.Should().Contain(line => line.StartsWith("Warning", StringComparison.Ordinal) && line.Contains("no identity file") && line.Contains("replica 0 of cluster 7 (3 replicas)"));

        using var other = OpenAs(new ReplicaIdentity(7, 3, new ReplicaId(1)));
        FluentActions.Invoking(() => Load(other)).Should().Throw<IOException>().WithMessage("*belongs to replica 0 of cluster 7*");
    }

    [Test]
    public void A_damaged_identity_file_is_refused_as_corruption()
    {
        using (var storage = OpenAs(Replica0))
        {
            Load(storage);
        }

        var bytes = File.ReadAllBytes(IdentityPath);
        bytes[14] ^= 1;
        File.WriteAllBytes(IdentityPath, bytes);

        using var again = OpenAs(Replica0);
        FluentActions.Invoking(() => Load(again)).Should().Throw<StorageCorruptionException>()
            .Which.Message.Should().Contain(IdentityPath).And.Contain("cannot tell which replica");
    }

    [Test]
    public void A_leftover_identity_tmp_is_removed_and_the_identity_written()
    {
        File.WriteAllText(Temp.File("identity.tmp"), "half");

        using var storage = OpenAs(Replica0);
        Load(storage);

        File.Exists(Temp.File("identity.tmp")).Should().BeFalse();
        File.ReadAllBytes(IdentityPath).Should().HaveCount(24);
    }

    [TestCase("identity")]
    [TestCase("view")]
    [TestCase("segment")]
    public void A_file_of_a_newer_format_version_is_refused_naming_the_version(string kind)
    {
        using (var storage = OpenAs(Replica0))
        {
            Load(storage);
            Persist(storage, Batch(1, view: new ViewNumber(1), proposals: [P(1, 1, 1, U(1, 1))]));
        }

        var path = kind switch
        {
            "identity" => IdentityPath,
            "view" => Temp.File(WalFormat.ViewFileName),
            _ => Temp.File(WalFormat.SegmentFileName(1)),
        };
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 9); // Version 9; the checksum no longer matches either.
        File.WriteAllBytes(path, bytes);

        using var again = OpenAs(Replica0);
        FluentActions.Invoking(() => Load(again)).Should().Throw<IOException>()
            .Which.Message.Should().Contain(path).And.Contain("format version 9").And.Contain("newer than this version of Paxos.Core reads");
    }

    [Test]
    public void A_node_refuses_a_storage_built_for_another_identity()
    {
        using var storage = OpenAs(new ReplicaIdentity(7, 3, new ReplicaId(2)));
        var network = new InProcessNetwork(3);

        var build = () => new PaxosNode(NodeOptions(0, null), new Hosting.RecordingExecutor(), network.CreateTransport(new ReplicaId(0)), storage);

        build.Should().Throw<OptionsValidationException>().Which.Message
            .Should().Contain("FileReplicaStorageOptions.Identity is replica 2 of cluster 7 (3 replicas)").And.Contain("PaxosOptions describe replica 0 of cluster 7 (3 replicas)");
    }

    [Test]
    public async Task A_node_gives_a_storage_without_an_identity_its_own()
    {
        using var storage = Open(Temp.Path);
        var network = new InProcessNetwork(3);
        await using (var node = new PaxosNode(NodeOptions(1, null), new Hosting.RecordingExecutor(), network.CreateTransport(new ReplicaId(1)), storage))
        {
            await node.StartAsync();
            await node.StopAsync();
        }

        BinaryPrimitives.ReadUInt16LittleEndian(File.ReadAllBytes(IdentityPath).AsSpan(14)).Should().Be(1);
    }

    private static PaxosOptions NodeOptions(int replica, string? directory) => new()
    {
        ReplicaId = replica,
        ClusterSize = 3,
        ClusterId = 7,
        DataDirectory = directory,
    };

    private FileReplicaStorage OpenAs(ReplicaIdentity identity) => new(WithIdentity(StorageTestSupport.Options(Temp.Path), identity));

    private static FileReplicaStorageOptions WithIdentity(FileReplicaStorageOptions options, ReplicaIdentity identity)
    {
        options.Identity = identity;
        return options;
    }

    private sealed class CapturingLogger : ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add($"{logLevel} {formatter(state, exception)}");
            }
        }
    }
}
