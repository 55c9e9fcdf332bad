using System.Buffers.Binary;
using System.Net.Sockets;
using Paxos.Messages;
using Paxos.Testing;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>
/// TESTING.md level 4 in one process: three real <see cref="PaxosNode"/>s over real UDP sockets on 127.0.0.1,
/// directly or through the seeded <see cref="UdpChaosProxy"/>, ordering updates from concurrent clients.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ClusterTests
{
    private const int Size = 3;
    private const ulong ChaosSeed = 0xC4A05_2026UL;
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());

    [Test]
    public async Task Three_nodes_agree_on_1000_updates_from_concurrent_clients()
    {
        await using var cluster = await UdpCluster.StartDirectAsync(Size);

        await Clients.RunAsync(cluster, clients: 10, updatesEach: 100, nodeFor: c => c % Size);

        var order = await cluster.UntilAgreedAsync(1000, 0, 1, 2);
        Clients.CheckExactlyOnceInClientOrder(order, clients: 10, updatesEach: 100);
        // Stray datagrams from other processes on this host would count as UnknownEndpoint; nothing else may drop.
        cluster.Transports.Sum(t => t!.Counters.ReceiveDrops - t.DroppedCount(UdpDropReason.UnknownEndpoint))
            .Should().Be(0, "nothing the replicas send each other over a clean loopback is bad input");
    }

    [Test]
    public async Task Three_nodes_agree_through_loss_duplication_and_reordering()
    {
        await using var cluster = await UdpCluster.StartProxiedAsync(Size, ChaosSeed);
        cluster.Proxy!.SetAll(new LinkFaults(LossProbability: 0.10, DuplicateProbability: 0.05, MinDelayMicros: 0, MaxDelayMicros: 2000));

        await Clients.RunAsync(cluster, clients: 20, updatesEach: 50, nodeFor: c => c % Size);

        var order = await cluster.UntilAgreedAsync(1000, 0, 1, 2);
        Clients.CheckExactlyOnceInClientOrder(order, clients: 20, updatesEach: 50);
        var chaos = cluster.Proxy.Counters;
        chaos.Lost.Should().BeGreaterThan(0);
        chaos.Duplicated.Should().BeGreaterThan(0);
        chaos.Delayed.Should().BeGreaterThan(0);
    }

    [Test]
    public async Task Forged_unauthenticated_datagrams_are_dropped_and_their_updates_never_execute()
    {
        // Replicas 0 and 1 run with a cluster key; the test's socket stands in for replica 2, so its datagrams
        // pass the endpoint check and meet the codec's authentication.
        await using var cluster = await UdpCluster.StartProxiedAsync(Size, ChaosSeed, Key, external: 2);
        using var forger = TestSockets.Bind();
        cluster.Proxy!.SetReplicaEndpoint(2, TestSockets.EndpointOf(forger));
        var leader = await cluster.UntilLeaderAsync();
        var view = cluster.Nodes[leader]!.Status.LastInstalled;

        var forged = new ClientUpdate(new ClientId(666), 1, "forged"u8.ToArray());
        var crcOnly = RawHarness.CodecFor(null, 0xC1A5, Size, 1400);
        var wrongKey = RawHarness.CodecFor(RawHarness.OtherKey, 0xC1A5, Size, 1400);
        for (var target = 0; target < 2; target++)
        {
            var relay = cluster.Proxy.EndpointFor(target);
            forger.SendTo(RawHarness.Encode(crcOnly, new ClientUpdateForward(new ReplicaId(2), [forged])), relay);
            forger.SendTo(RawHarness.Encode(crcOnly, new Proposal(new ReplicaId(2), view, new SequenceNumber(1), [forged])), relay);
            forger.SendTo(RawHarness.Encode(wrongKey, new ClientUpdateForward(new ReplicaId(2), [forged])), relay);
        }

        await Eventually.UntilAsync(
            () => cluster.Transports.Take(2).All(t => t!.DroppedCount(UdpDropReason.Unauthenticated) == 2 && t.DroppedCount(UdpDropReason.BadMac) == 1),
            "every forged datagram dropped as unauthenticated or with a bad MAC",
            state: cluster.Describe);

        await Clients.RunAsync(cluster, clients: 4, updatesEach: 10, nodeFor: c => c % 2);
        var order = await cluster.UntilAgreedAsync(40, 0, 1);
        order.Should().NotContain(e => e.Client == 666, "a forged update must never execute");
        cluster.Transports.Take(2).Sum(t => t!.Counters.FramesDelivered).Should().BeGreaterThan(0);
    }

    [Test]
    public async Task After_the_leader_stops_the_others_elect_a_new_one_and_keep_ordering()
    {
        await using var cluster = await UdpCluster.StartDirectAsync(Size);
        var leader = await cluster.UntilLeaderAsync();
        await Clients.RunAsync(cluster, clients: 6, updatesEach: 10, nodeFor: c => c % Size);
        await cluster.UntilAgreedAsync(60, 0, 1, 2);

        await cluster.Nodes[leader]!.StopAsync();
        var survivors = Enumerable.Range(0, Size).Where(r => r != leader).ToArray();
        await Clients.RunAsync(cluster, clients: 6, updatesEach: 10, nodeFor: c => survivors[c % survivors.Length], firstTimestamp: 11);

        var order = await cluster.UntilAgreedAsync(120, survivors);
        Clients.CheckExactlyOnceInClientOrder(order, clients: 6, updatesEach: 20);
        cluster.Executors[leader].Snapshot().Should().Equal(order.Take(60), "the old leader executed a prefix of the same history");
        var newLeader = cluster.Nodes[survivors[0]]!.Status.Leader.Value;
        newLeader.Should().NotBe(leader);
        survivors.Should().Contain(newLeader);
    }

    /// <summary>Concurrent clients: each submits its updates one at a time, timestamps 1, 2, 3… (PfSB §10).</summary>
    private static class Clients
    {
        private static readonly TimeSpan SubmitTimeout = TimeSpan.FromSeconds(30);

        public static Task RunAsync(UdpCluster cluster, int clients, int updatesEach, Func<int, int> nodeFor, long firstTimestamp = 1) =>
            Task.WhenAll(Enumerable.Range(0, clients).Select(c =>
                Task.Run(() => RunClientAsync(cluster, cluster.Nodes[nodeFor(c)]!, c + 1, firstTimestamp, updatesEach))));

        /// <summary>Every client's updates executed exactly once, in timestamp order.</summary>
        public static void CheckExactlyOnceInClientOrder(OrderRecorder.Executed[] order, int clients, int updatesEach)
        {
            order.Select(e => e.Sequence).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
            for (var client = 1; client <= clients; client++)
            {
                order.Where(e => e.Client == client).Select(e => e.Timestamp)
                    .Should().Equal(Enumerable.Range(1, updatesEach).Select(t => (long)t), "client {0}'s updates, each once, in order", client);
            }
        }

        private static async Task RunClientAsync(UdpCluster cluster, PaxosNode node, long client, long firstTimestamp, int updates)
        {
            for (var timestamp = firstTimestamp; timestamp < firstTimestamp + updates; timestamp++)
            {
                var payload = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(payload, client);
                BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), timestamp);
                using var timeout = new CancellationTokenSource(SubmitTimeout);
                try
                {
                    await node.SubmitAsync(new ClientUpdate(new ClientId(client), timestamp, payload), timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"Client {client}'s update {timestamp} did not execute within {SubmitTimeout.TotalSeconds} s: {cluster.Describe()}");
                }
            }
        }
    }
}
