using System.Text;
using Paxos.Client.Tests.Support;

namespace Paxos.Client.Tests;

/// <summary>PaxosClient against listeners over an in-memory session table: sessions, exactly-once retries, failover,
/// timeouts and the errors it raises.</summary>
public sealed class ClientTests
{
    [Test]
    public async Task A_client_opens_a_session_submits_and_reads_its_writes()
    {
        await using var fixture = await FakeFixture.StartAsync();
        await using var client = new PaxosClient(fixture.ClientOptions());
        client.SessionId.Should().BeNull();

        (await client.SubmitAsync("SET x 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray());
        (await client.SubmitAsync("SET x 2"u8.ToArray())).ToArray().Should().Equal("OK 2"u8.ToArray());
        (await client.ReadAsync("GET x"u8.ToArray())).ToArray().Should().Equal("2"u8.ToArray());

        client.SessionId.Should().NotBeNull();
        (client.SessionId!.Value & (1L << 62)).Should().NotBe(0, "session ids have bit 62 set");
        fixture.Cluster.Executed.Should().Equal((client.SessionId.Value, 1L, "SET x 1"), (client.SessionId.Value, 2L, "SET x 2"));
        fixture.Cluster.Registrations.Should().Be(1);
    }

    [Test]
    public async Task A_retry_after_a_lost_answer_carries_the_same_sequence_and_executes_once()
    {
        await using var fixture = await FakeFixture.StartAsync();
        fixture.Replicas[0].FailAfterExecuting(1);
        await using var client = new PaxosClient(fixture.ClientOptions());

        (await client.SubmitAsync("SET x 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray(), "the retry is answered from the session table");
        fixture.Cluster.Executions.Should().Be(1);
        (fixture.Replicas[0].Submissions + fixture.Replicas[1].Submissions + fixture.Replicas[2].Submissions).Should().Be(2, "one attempt, one retry");

        (await client.SubmitAsync("SET x 2"u8.ToArray())).ToArray().Should().Equal("OK 2"u8.ToArray());
        fixture.Cluster.Executed.Select(static e => e.Sequence).Should().Equal(1, 2);
    }

    [Test]
    public async Task The_client_fails_over_past_an_endpoint_where_nothing_listens()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 2);
        var options = fixture.ClientOptions();
        options.Replicas.Insert(0, FakeFixture.ClosedEndpoint());
        await using var client = new PaxosClient(options);

        (await client.SubmitAsync("SET x 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray());
        fixture.Listeners[0].Counters.ConnectionsAccepted.Should().Be(1);
    }

    [Test]
    public async Task The_client_fails_over_past_a_stopped_replica()
    {
        await using var fixture = await FakeFixture.StartAsync();
        fixture.Replicas[0].IsStopped = true;
        await using var client = new PaxosClient(fixture.ClientOptions());

        (await client.SubmitAsync("SET x 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray());
        (await client.ReadAsync("GET x"u8.ToArray())).ToArray().Should().Equal("1"u8.ToArray());
        fixture.Cluster.Executions.Should().Be(1);
    }

    [Test]
    public async Task The_client_goes_on_when_its_listener_stops_between_updates()
    {
        await using var fixture = await FakeFixture.StartAsync();
        await using var client = new PaxosClient(fixture.ClientOptions());
        for (var i = 1; i <= 10; i++)
        {
            if (i == 6)
            {
                await fixture.Listeners[0].StopAsync(CancellationToken.None);
            }

            (await client.SubmitAsync(Encoding.UTF8.GetBytes($"SET x {i}"))).ToArray().Should().Equal(Encoding.UTF8.GetBytes($"OK {i}"));
        }

        fixture.Cluster.Executed.Select(static e => e.Sequence).Should().Equal(Enumerable.Range(1, 10).Select(static i => (long)i));
        fixture.Cluster.Registrations.Should().Be(1, "the session survives the failover");
        fixture.Listeners[1].Counters.Requests.Should().BeGreaterThan(0);
    }

    [Test]
    public async Task An_expired_session_with_nothing_in_doubt_is_replaced_transparently()
    {
        await using var fixture = await FakeFixture.StartAsync();
        await using var client = new PaxosClient(fixture.ClientOptions());
        await client.SubmitAsync("SET x 1"u8.ToArray());
        var first = client.SessionId!.Value;

        fixture.Cluster.Expire(first);
        (await client.SubmitAsync("SET x 2"u8.ToArray())).ToArray().Should().Equal("OK 2"u8.ToArray());

        client.SessionId.Should().NotBe(first);
        fixture.Cluster.Executed.Should().Equal((first, 1L, "SET x 1"), (client.SessionId!.Value, 1L, "SET x 2"));
    }

    [Test]
    public async Task An_expired_session_with_an_update_in_doubt_is_surfaced()
    {
        await using var fixture = await FakeFixture.StartAsync();
        await using var client = new PaxosClient(fixture.ClientOptions());
        await client.SubmitAsync("SET x 1"u8.ToArray());
        var session = client.SessionId!.Value;

        // The next update executes but its answer is lost, and the cluster forgets the session before the retry.
        fixture.Replicas[0].FailAfterExecuting(1, then: () => fixture.Cluster.Expire(session));
        var submit = () => client.SubmitAsync("SET x 2"u8.ToArray());
        var failure = (await submit.Should().ThrowAsync<PaxosClientException>()).Which;

        (failure.Reason, failure.UpdateMayHaveExecuted).Should().Be((PaxosClientFailure.SessionExpired, true));
        client.SessionId.Should().BeNull("the client abandons the session");
        fixture.Cluster.Executed.Count(static e => e.Payload == "SET x 2").Should().Be(1);

        // The update in doubt is not re-sent under a new session; the next one opens it.
        (await client.SubmitAsync("SET x 3"u8.ToArray())).ToArray().Should().Equal("OK 3"u8.ToArray());
        fixture.Cluster.Executed.Select(static e => e.Payload).Should().Equal("SET x 1", "SET x 2", "SET x 3");
        fixture.Cluster.Registrations.Should().Be(2);
    }

    [Test]
    public async Task With_nothing_listening_a_submission_times_out_and_was_not_sent()
    {
        var options = new PaxosClientOptions
        {
            RequestTimeout = TimeSpan.FromMilliseconds(200),
            OperationTimeout = TimeSpan.FromMilliseconds(600),
            RetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        };
        options.Replicas.Add(FakeFixture.ClosedEndpoint());
        options.Replicas.Add(FakeFixture.ClosedEndpoint());
        await using var client = new PaxosClient(options);

        var submit = () => client.SubmitAsync("SET x 1"u8.ToArray());
        var failure = (await submit.Should().ThrowAsync<PaxosClientException>()).Which;
        failure.Reason.Should().Be(PaxosClientFailure.Timeout);
        failure.UpdateMayHaveExecuted.Should().BeFalse();
        failure.Message.Should().Contain("Cannot connect");

        var read = () => client.ReadAsync("GET x"u8.ToArray());
        (await read.Should().ThrowAsync<PaxosClientException>()).Which.Reason.Should().Be(PaxosClientFailure.Timeout);
    }

    [Test]
    public async Task An_update_no_replica_answers_is_in_doubt_and_its_session_abandoned()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 2, configure: static o => o.RequestTimeout = TimeSpan.FromMilliseconds(100));
        var options = fixture.ClientOptions();
        options.RequestTimeout = TimeSpan.FromMilliseconds(200);
        options.OperationTimeout = TimeSpan.FromMilliseconds(700);
        await using var client = new PaxosClient(options);
        await client.SubmitAsync("SET x 1"u8.ToArray());
        fixture.Replicas[0].Hangs = fixture.Replicas[1].Hangs = true;

        var submit = () => client.SubmitAsync("SET x 2"u8.ToArray());
        var failure = (await submit.Should().ThrowAsync<PaxosClientException>()).Which;

        (failure.Reason, failure.UpdateMayHaveExecuted).Should().Be((PaxosClientFailure.Timeout, true));
        failure.Message.Should().Contain("Timeout", "the last failure was the replica's own timeout answer");
        client.SessionId.Should().BeNull("an update in doubt is never followed by another under the same session");
    }

    [Test]
    public async Task Cancellation_by_the_caller_is_an_OperationCanceledException()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        fixture.Replicas[0].Hangs = true;
        await using var client = new PaxosClient(fixture.ClientOptions());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var submit = () => client.SubmitAsync("SET x 1"u8.ToArray(), cancel.Token);
        await submit.Should().ThrowAsync<OperationCanceledException>();
    }

    [Test]
    public async Task Concurrent_submissions_are_serialized_under_one_session()
    {
        await using var fixture = await FakeFixture.StartAsync();
        await using var client = new PaxosClient(fixture.ClientOptions());
        var submissions = Enumerable.Range(1, 20).Select(i => client.SubmitAsync(Encoding.UTF8.GetBytes($"SET k{i} {i}"))).ToArray();
        await Task.WhenAll(submissions).WaitAsync(TimeSpan.FromSeconds(60));

        fixture.Cluster.Executed.Select(static e => e.Sequence).Should().Equal(Enumerable.Range(1, 20).Select(static i => (long)i));
        fixture.Cluster.Executed.Select(static e => e.Session).Distinct().Should().ContainSingle();
        var reads = await Task.WhenAll(Enumerable.Range(1, 20).Select(i => client.ReadAsync(Encoding.UTF8.GetBytes($"GET k{i}"))));
        reads.Select(static r => Encoding.UTF8.GetString(r.Span)).Should().Equal(Enumerable.Range(1, 20).Select(static i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task A_payload_beyond_a_frame_is_refused_before_it_is_sent()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        await using var client = new PaxosClient(fixture.ClientOptions());
        var submit = () => client.SubmitAsync(new byte[client.MaxPayloadBytes + 1]);
        var failure = (await submit.Should().ThrowAsync<PaxosClientException>()).Which;
        (failure.Reason, failure.UpdateMayHaveExecuted).Should().Be((PaxosClientFailure.TooLarge, false));
        fixture.Listeners[0].Counters.ConnectionsAccepted.Should().Be(0);
    }

    [Test]
    public async Task The_client_authenticates_with_the_clusters_key()
    {
        const string key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        await using var fixture = await FakeFixture.StartAsync(key: key);
        await using var client = new PaxosClient(fixture.ClientOptions(key));
        (await client.SubmitAsync("SET x 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray());
        (await client.ReadAsync("GET x"u8.ToArray())).ToArray().Should().Equal("1"u8.ToArray());
        fixture.Listeners.Sum(static l => l.Counters.AuthenticationFailures).Should().Be(0);
    }

    [Test]
    public void Bad_options_fail_with_a_message_that_names_them()
    {
        var options = new PaxosClientOptions { ClusterKey = "not base64!", OperationTimeout = TimeSpan.FromSeconds(1) };
        var act = () => new PaxosClient(options);
        act.Should().Throw<ArgumentException>().Which.Message.Should()
            .Contain("Replicas").And.Contain("ClusterKey").And.Contain("OperationTimeout").And.NotContain("not base64!");
    }

    [Test]
    public async Task A_disposed_client_refuses_work()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        var client = new PaxosClient(fixture.ClientOptions());
        await client.DisposeAsync();
        await client.DisposeAsync();
        var submit = () => client.SubmitAsync("SET x 1"u8.ToArray());
        await submit.Should().ThrowAsync<ObjectDisposedException>();
    }
}
