using System.Text;

namespace Paxos.Tests.Hosting;

/// <summary>Sessions, rejections and the submission timeout as an application meets them through
/// <see cref="PaxosNode"/> (docs/protocol-notes.md, "Client sessions" and "Executor failures and rejections").</summary>
public class NodeSessionTests
{
    private static PaxosOptions WithSubmitTimeout(PaxosOptions options, TimeSpan timeout)
    {
        options.SubmitTimeout = timeout;
        return options;
    }

    [Test]
    public async Task A_session_opened_at_one_node_submits_anywhere_and_a_retried_registration_gets_the_same_session()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        await cluster.LeaderAsync();

        var nonce = ClientSession.NewRegistrationNonce();
        var id = await cluster.TickUntilAsync(cluster.Nodes[1].RegisterSessionAsync(nonce), "the registration");
        var again = await cluster.TickUntilAsync(cluster.Nodes[2].RegisterSessionAsync(nonce), "the retried registration");
        again.Should().Be(id, "a retry with the same nonce, through another replica, is the same registration");
        ClientSession.IsSessionId(id).Should().BeTrue();

        var session = new ClientSession(id);
        for (var i = 0; i < 6; i++)
        {
            var update = session.NextUpdate(new byte[] { (byte)i });
            var reply = await cluster.TickUntilAsync(cluster.Nodes[i % 3].SubmitAsync(update), $"session update {update.Timestamp}");
            Encoding.UTF8.GetString(reply.Span).Should().EndWith($":{id}#{update.Timestamp}");
        }

        var opened = await cluster.TickUntilAsync(cluster.Nodes[0].OpenSessionAsync(), "a second session");
        opened.Id.Should().NotBe(id);
        await cluster.TickUntilAsync(() => cluster.Executors.All(e => e.Executed.Count == 6), "every replica to execute the six updates");
        cluster.Executors.Select(e => e.Executed.Count(u => u.Client == id.Value)).Should().Equal(6, 6, 6);
        foreach (var node in cluster.Nodes)
        {
            node.GetCounters().SessionsRegistered.Should().BeGreaterThanOrEqualTo(1);
        }
    }

    [Test]
    public async Task A_session_update_that_skips_a_timestamp_fails_as_out_of_order_and_the_next_in_order_still_executes()
    {
        await using var cluster = new NodeCluster(1);
        await cluster.StartAsync();
        await cluster.LeaderAsync();
        var session = await cluster.TickUntilAsync(cluster.Nodes[0].OpenSessionAsync(), "the session");

        var skipping = () => cluster.TickUntilAsync(cluster.Nodes[0].SubmitAsync(new ClientUpdate(session.Id, 2, new byte[] { 2 })), "the refusal");

        var refused = (await skipping.Should().ThrowAsync<PaxosSubmitException>()).Which;
        refused.Reason.Should().Be(SubmitFailure.OutOfOrder);
        refused.Message.Should().Contain("skips a timestamp");
        await cluster.TickUntilAsync(cluster.Nodes[0].SubmitAsync(session.NextUpdate(new byte[] { 1 })), "update 1");
        cluster.Executors[0].Executed.Should().ContainSingle();
    }

    [Test]
    public async Task An_update_of_a_session_never_registered_fails_as_expired()
    {
        await using var cluster = new NodeCluster(1);
        await cluster.StartAsync();
        await cluster.LeaderAsync();
        await cluster.TickUntilAsync(cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })), "a plain update");

        var unknown = () => cluster.Nodes[0].SubmitAsync(new ClientSession(new ClientId((1L << 62) | 1)).NextUpdate(new byte[] { 1 }));

        var failure = (await unknown.Should().ThrowAsync<PaxosSubmitException>()).Which;
        failure.Reason.Should().Be(SubmitFailure.SessionExpired);
        failure.Message.Should().Contain("Open a new session");
    }

    [Test]
    public async Task A_rejected_update_fails_with_the_executors_error_on_every_retry_and_no_replica_stops()
    {
        await using var cluster = new NodeCluster(3);
        foreach (var executor in cluster.Executors)
        {
            executor.FailWith = u => u.Payload.Span[0] == 0xEE ? new UpdateRejectedException("bad command"u8.ToArray(), "invalid") : null;
        }

        await cluster.StartAsync();
        await cluster.LeaderAsync();
        var bad = new ClientUpdate(new ClientId(3), 1, new byte[] { 0xEE });

        for (var node = 0; node < 3; node++)
        {
            var submit = () => cluster.TickUntilAsync(cluster.Nodes[node].SubmitAsync(bad), "the rejection");
            var rejected = (await submit.Should().ThrowAsync<PaxosSubmitException>()).Which;
            rejected.Reason.Should().Be(SubmitFailure.Rejected);
            Encoding.UTF8.GetString(rejected.Error.Span).Should().Be("bad command");
        }

        await cluster.TickUntilAsync(cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(3), 2, new byte[] { 1 })), "the client's next update");
        await cluster.TickUntilAsync(() => cluster.Nodes.All(n => n.GetCounters().UpdatesRejected == 1), "every replica to reject the update once");
        cluster.Nodes.Should().OnlyContain(n => !n.Status.IsFaulted);
    }

    [Test]
    public async Task A_submission_without_a_quorum_times_out_and_says_the_node_is_in_leader_election()
    {
        await using var cluster = new NodeCluster(3, options: i => WithSubmitTimeout(NodeCluster.Options(i, 3), TimeSpan.FromSeconds(1)));
        await cluster.StartAsync();
        await cluster.LeaderAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true);
        cluster.Network.Isolate(new ReplicaId(1), isolated: true);
        cluster.Network.Isolate(new ReplicaId(2), isolated: true);

        var submission = cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        await cluster.TickUntilAsync(() => cluster.Nodes[0].Status.State == ReplicaState.LeaderElection, "replica 0 to suspect its view");
        var wait = () => cluster.TickUntilAsync(submission, "the timeout");

        var failure = (await wait.Should().ThrowAsync<PaxosSubmitException>()).Which;
        failure.Reason.Should().Be(SubmitFailure.TimedOut);
        failure.Message.Should().Contain("within 1 s (SubmitTimeout)").And.Contain("leader election").And.Contain("majority of 2 of 3");
    }

    [Test]
    public async Task An_infinite_submit_timeout_waits_for_ever()
    {
        await using var cluster = new NodeCluster(3, options: i => WithSubmitTimeout(NodeCluster.Options(i, 3), System.Threading.Timeout.InfiniteTimeSpan));
        await cluster.StartAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true);

        var submission = cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        var ticks = 0;
        await cluster.TickUntilAsync(() => ++ticks > 6_000, "12 s of the nodes' time", maxTicks: 6_100);

        submission.IsCompleted.Should().BeFalse();
    }
}
