using System.Globalization;
using System.Text;
using Paxos.Client.Listener;
using Paxos.Client.Tests.Support;
using Paxos.Transport;

namespace Paxos.Client.Tests;

/// <summary>End to end: three real <see cref="PaxosNode"/>s in this process (in-process network, real clock), a
/// listener beside each on 127.0.0.1, and a <see cref="PaxosClient"/> that submits across the leader's stop and
/// reads its own writes.</summary>
public sealed class NodeClusterTests
{
    [Test]
    public async Task A_client_submits_across_a_leader_stop_and_reads_its_own_writes()
    {
        await using var cluster = await RealCluster.StartAsync(3);
        await using var client = new PaxosClient(cluster.ClientOptions());

        for (var i = 1; i <= 10; i++)
        {
            await client.SubmitAsync(Encoding.UTF8.GetBytes(Say($"SET k{i} v{i}")));
        }

        (await client.ReadAsync("GET k10"u8.ToArray())).ToArray().Should().Equal("v10"u8.ToArray());
        var session = client.SessionId;

        var leader = await cluster.UntilLeaderAsync();
        await cluster.StopAsync(leader);

        for (var i = 11; i <= 20; i++)
        {
            await client.SubmitAsync(Encoding.UTF8.GetBytes(Say($"SET k{i} v{i}")));
            (await client.ReadAsync(Encoding.UTF8.GetBytes(Say($"GET k{i}")))).ToArray().Should().Equal(Encoding.UTF8.GetBytes(Say($"v{i}")), "a read reflects every acknowledged update");
        }

        client.SessionId.Should().Be(session, "the session outlives the leader");
        foreach (var survivor in cluster.Running)
        {
            await Eventually.UntilAsync(() => cluster.Executors[survivor].Applied.Count(static a => a.StartsWith("SET", StringComparison.Ordinal)) == 20, $"replica {survivor} executes all 20 updates");
            cluster.Executors[survivor].Applied.Where(static a => a.StartsWith("SET", StringComparison.Ordinal)).Should().OnlyHaveUniqueItems("no update executes twice");
        }
    }

    [Test]
    public async Task A_retried_update_executes_once_at_real_replicas()
    {
        await using var cluster = await RealCluster.StartAsync(3);
        await using var client = new PaxosClient(cluster.ClientOptions());
        await client.SubmitAsync("SET a 1"u8.ToArray());
        var session = client.SessionId!.Value;

        // The same (session, sequence) sent again, at every replica, as a client that lost its answers would.
        var update = new ClientUpdate(new ClientId(session), 2, "SET a 2"u8.ToArray());
        var replies = await Task.WhenAll(cluster.Nodes.Select(n => n!.SubmitAsync(update)));
        replies.Select(static r => r.ToArray()).Should().AllBeEquivalentTo(replies[0].ToArray());
        await Eventually.UntilAsync(() => cluster.Executors.All(static e => e.Applied.Count(static a => a == "SET a 2") == 1), "every replica executes the update once");
    }

    [Test]
    public async Task An_update_the_executor_rejects_is_reported_with_its_error_and_the_session_goes_on()
    {
        await using var cluster = await RealCluster.StartAsync(3);
        await using var client = new PaxosClient(cluster.ClientOptions());
        await client.SubmitAsync("SET a 1"u8.ToArray());

        var submit = () => client.SubmitAsync("FAIL no such account"u8.ToArray());
        var failure = (await submit.Should().ThrowAsync<PaxosClientException>()).Which;
        (failure.Reason, failure.UpdateMayHaveExecuted).Should().Be((PaxosClientFailure.UpdateRejected, false));
        failure.Error.ToArray().Should().Equal("no such account"u8.ToArray());

        (await client.SubmitAsync("SET a 2"u8.ToArray())).ToArray().Should().Equal("OK"u8.ToArray(), "the rejection used up its sequence and the next follows it");
        (await client.ReadAsync("GET a"u8.ToArray())).ToArray().Should().Equal("2"u8.ToArray());
    }

    [Test]
    public async Task A_keyed_cluster_serves_a_keyed_client()
    {
        const string key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        await using var cluster = await RealCluster.StartAsync(3, key);
        await using var client = new PaxosClient(cluster.ClientOptions(key));
        await client.SubmitAsync("SET a 1"u8.ToArray());
        (await client.ReadAsync("GET a"u8.ToArray())).ToArray().Should().Equal("1"u8.ToArray());
        cluster.Listeners.Sum(static l => l.Counters.AuthenticationFailures).Should().Be(0);
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
