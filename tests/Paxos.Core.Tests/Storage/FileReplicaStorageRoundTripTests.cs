using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Tests.Paper;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>
/// The file log against the reference semantics: the batches of a real three-replica cluster are persisted to an
/// <see cref="InMemoryReplicaStorage"/> and a <see cref="FileReplicaStorage"/> side by side, and both must load
/// back the same state — across segment rollover, preallocation on and off, reopening, and a replica recovered
/// from the file.
/// </summary>
public class FileReplicaStorageRoundTripTests
{
    private TempDirectory _temp = null!;
    private InMemoryReplicaStorage[] _memory = null!;
    private FileReplicaStorage[] _files = null!;

    [SetUp]
    public void SetUp()
    {
        _temp = new TempDirectory();
        _memory = new InMemoryReplicaStorage[3];
        _files = new FileReplicaStorage[3];
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var file in _files)
        {
            file?.Dispose();
        }

        _temp.Dispose();
    }

    [TestCase(1, false, true)]
    [TestCase(2, true, true)]
    [TestCase(3, true, false)]
    [TestCase(4, false, false)]
    public void A_cluster_s_batches_load_back_as_the_in_memory_storage_holds_them(int seed, bool preallocate, bool sync)
    {
        var cluster = StartCluster(seed, preallocate, sync, maxPayloadBytes: 300, steps: 3000);

        AssertSameState();
        var states = _memory.Select(Load).ToList();
        states.Should().Contain(s => s.LastInstalled.Value > 1, "the run changed views, so batches installed views");
        states.Sum(s => s.AcceptedProposals.Count).Should().BePositive();
        states.Sum(s => s.OrderedSlots.Count).Should().BeGreaterThan(50);
        states.Sum(s => s.PendingUpdates.Count).Should().BePositive();
        cluster.Executors.Should().OnlyContain(e => e.History.Count > 0);
    }

    [Test]
    public void Segments_roll_over_and_load_back_in_order([Values] bool preallocate)
    {
        StartCluster(seed: 5, preallocate, sync: false, maxPayloadBytes: 8000, steps: 2500);

        AssertSameState();
        for (var i = 0; i < 3; i++)
        {
            _files[i].Counters.BytesWritten.Should().BeGreaterThan(FileReplicaStorageOptions.MinSegmentBytes);
            Directory.GetFiles(_temp.Sub($"r{i}"), "wal-*.log").Should().HaveCountGreaterThan(1, "more than 1 MiB went to 1 MiB segments");
        }
    }

    [Test]
    public void A_reopened_storage_appends_after_what_it_recovered([Values] bool preallocate)
    {
        var cluster = StartCluster(seed: 6, preallocate, sync: false, maxPayloadBytes: 200, steps: 1500);
        for (var i = 0; i < 3; i++)
        {
            _files[i].Dispose();
            _files[i] = Open(_temp.Sub($"r{i}"), preallocate, sync: false);

            // Replica 0's host loads first, as a node does; the others persist straight away.
            if (i == 0)
            {
                Describe(Load(_files[i])).Should().Equal(Describe(Load(_memory[i])));
            }
        }

        cluster.Run(1500, maxPayloadBytes: 200);
        cluster.Settle();

        AssertSameState();
    }

    [Test]
    public void A_replica_recovered_from_the_file_executes_the_same_updates()
    {
        var cluster = StartCluster(seed: 7, preallocate: true, sync: false, maxPayloadBytes: 100, steps: 3000);

        for (var i = 0; i < 3; i++)
        {
            var fromFile = new TestExecutor();
            var fromMemory = new TestExecutor();
            var recovered = new PaxosReplica(StorageCluster.OptionsFor(i).ToProtocolOptions(), fromFile, Load(_files[i]));
            _ = new PaxosReplica(StorageCluster.OptionsFor(i).ToProtocolOptions(), fromMemory, Load(_memory[i]));

            var executed = cluster.Executors[i].History.Select(Name).ToList();
            executed.Should().NotBeEmpty();
            fromFile.History.Select(Name).Should().Equal(executed);
            fromMemory.History.Select(Name).Should().Equal(executed);
            recovered.Status.LocalAru.Should().Be(cluster.Replicas[i].Status.LocalAru);
            recovered.Status.LastInstalled.Should().Be(cluster.Replicas[i].Status.LastInstalled);
        }
    }

    [Test]
    public void A_copy_of_the_directory_taken_mid_stream_loads_as_the_state_at_that_moment()
    {
        // A crash of the process at any batch boundary leaves exactly the files as they are: what the copy holds.
        using var copies = new TempDirectory();
        var expected = new List<(string Copy, List<string> State)>();
        _memory[0] = new InMemoryReplicaStorage();
        _files[0] = Open(_temp.Sub("r0"), preallocate: true, sync: false);
        var batches = 0;
        var cluster = new StorageCluster(8, (id, batch) =>
        {
            if (id != 0)
            {
                return;
            }

            Persist(_memory[0], batch);
            Persist(_files[0], batch);
            if (++batches % 40 == 0)
            {
                var copy = copies.Sub($"at{batches}");
                CopyDirectory(_temp.Sub("r0"), copy);
                expected.Add((copy, Describe(Load(_memory[0]))));
            }
        });
        cluster.Run(2500, maxPayloadBytes: 100);

        expected.Should().HaveCountGreaterThan(5);
        foreach (var (copy, state) in expected)
        {
            using var storage = Open(copy, preallocate: true);
            Describe(Load(storage)).Should().Equal(state, $"the copy {Path.GetFileName(copy)} was taken then");
            storage.Counters.LastRecoveryTornBytes.Should().Be(0);
        }
    }

    private static string Name(OrderedUpdate update) => $"c{update.ClientId.Value}#{update.Timestamp}@{update.Sequence.Value}";

    private StorageCluster StartCluster(int seed, bool preallocate, bool sync, int maxPayloadBytes, int steps)
    {
        for (var i = 0; i < 3; i++)
        {
            _memory[i] = new InMemoryReplicaStorage();
            _files[i] = Open(_temp.Sub($"r{i}"), preallocate, sync);
        }

        var cluster = new StorageCluster(seed, (id, batch) =>
        {
            Persist(_memory[id], batch);
            Persist(_files[id], batch);
        });
        cluster.Run(steps, maxPayloadBytes);
        cluster.Settle();
        return cluster;
    }

    private void AssertSameState()
    {
        for (var i = 0; i < 3; i++)
        {
            Describe(Load(_files[i])).Should().Equal(Describe(Load(_memory[i])), $"replica {i}'s file and memory storage saw the same batches");
        }
    }
}
