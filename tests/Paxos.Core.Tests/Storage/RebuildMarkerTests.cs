using Paxos.Protocol;

using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>The file storage keeps a replica's "rebuilding from peers" state across restarts (PROTOCOL.md §16.4).</summary>
public class RebuildMarkerTests : TempDirectoryFixture
{
    [Test]
    public async Task The_marker_is_durable_from_the_start_of_a_rebuild_until_its_end()
    {
        using (var storage = Open(Temp.Path))
        {
            await storage.LoadAsync();
            await storage.PersistAsync(new OutputBatch(1) { RebuildStarted = true });
        }

        using (var storage = Open(Temp.Path))
        {
            (await storage.LoadAsync()).RequiresRebuild.Should().BeTrue();
            await storage.PersistAsync(new OutputBatch(1) { RebuildCompleted = true });
        }

        using (var storage = Open(Temp.Path))
        {
            (await storage.LoadAsync()).RequiresRebuild.Should().BeFalse();
        }
    }

    [Test]
    public async Task A_replica_restarted_mid_rebuild_is_still_rebuilding()
    {
        using (var storage = Open(Temp.Path))
        {
            var first = new PaxosReplica(new ProtocolOptions { ClusterSize = 3, RebuildFromPeers = true }, new NullExecutor(), await storage.LoadAsync());
            var batch = first.TakeOutput();
            await storage.PersistAsync(batch);
        }

        using (var storage = Open(Temp.Path))
        {
            var second = new PaxosReplica(new ProtocolOptions { ClusterSize = 3 }, new NullExecutor(), await storage.LoadAsync());
            second.Status.IsRebuilding.Should().BeTrue("the operator's flag is gone, but the durable marker remains");
        }
    }

    private sealed class NullExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => ReadOnlyMemory<byte>.Empty;
    }
}
