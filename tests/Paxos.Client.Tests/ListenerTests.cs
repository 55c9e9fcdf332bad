using System.Buffers.Binary;
using Microsoft.Extensions.Options;
using Paxos.Client.Listener;
using Paxos.Client.Tests.Support;
using Paxos.Client.Wire;

namespace Paxos.Client.Tests;

/// <summary>The listener defends itself: malformed and unauthenticated frames close the connection and are counted,
/// connections are bounded, bad options fail with a clear message.</summary>
public sealed class ListenerTests
{
    private const string Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 32 bytes
    private const string OtherKey = "HxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxc=";

    public static IEnumerable<TestCaseData> MalformedFrames()
    {
        yield return new TestCaseData(Length(0)).SetName("Length_zero");
        yield return new TestCaseData(Length(int.MaxValue)).SetName("Length_beyond_the_bound");
        yield return new TestCaseData(Length(-5)).SetName("Length_negative");
        yield return new TestCaseData(WithType(0x7E)).SetName("Unknown_type");
        yield return new TestCaseData(WireMessages.Welcome(new byte[16], 1, 1, false)).SetName("A_replica_only_type");
        yield return new TestCaseData(WireMessages.Hello(new byte[16], false)).SetName("A_second_Hello");
        yield return new TestCaseData(WireMessages.Bytes(FrameType.Submit, 1, new byte[10], false)).SetName("Submit_with_truncated_fields");
        yield return new TestCaseData(WireMessages.Bytes(FrameType.OpenSession, 1, new byte[9], false)).SetName("OpenSession_with_a_field_too_many");
        yield return new TestCaseData(WireMessages.Bytes(FrameType.Status, 1, new byte[1], false)).SetName("Status_with_a_body");
        yield return new TestCaseData(WireMessages.Bytes(FrameType.Read, 1, new byte[64], false)[..40]).SetName("Stream_ends_inside_a_frame");
    }

    [TestCaseSource(nameof(MalformedFrames))]
    public async Task A_malformed_frame_closes_the_connection_and_is_counted(byte[] frame)
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        var listener = fixture.Listeners[0];
        await using (var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!))
        {
            await raw.WriteRawAsync(frame);
            if (frame.Length == 40)
            {
                await raw.Wire.DisposeAsync(); // The client goes away in the middle of its frame.
            }
            else
            {
                (await raw.ClosedByListenerAsync()).Should().BeTrue();
            }
        }

        await Eventually.UntilAsync(() => listener.Counters.MalformedFrames == 1, "the malformed frame is counted", state: () => listener.Counters.ToString());
        await Eventually.UntilAsync(() => listener.Counters.ConnectionsOpen == 0, "the connection is gone");

        // The listener serves the next client as before.
        await using var client = new PaxosClient(fixture.ClientOptions());
        (await client.SubmitAsync("SET a 1"u8.ToArray())).ToArray().Should().Equal("OK 1"u8.ToArray());
    }

    [Test]
    public async Task A_first_frame_that_is_not_Hello_is_malformed()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        var listener = fixture.Listeners[0];
        await using var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!, hello: false);
        await raw.WriteRawAsync(WireMessages.Bytes(FrameType.Status, 1, [], false));
        (await raw.ClosedByListenerAsync()).Should().BeTrue();
        await Eventually.UntilAsync(() => listener.Counters.MalformedFrames == 1, "the frame is counted");
    }

    [Test]
    public async Task A_client_with_another_key_is_closed_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, key: Key);
        var listener = fixture.Listeners[0];
        var act = () => RawClient.ConnectAsync(listener.LocalEndpoint!, OtherKey);
        await act.Should().ThrowAsync<Exception>();
        await Eventually.UntilAsync(() => listener.Counters.AuthenticationFailures == 1, "the bad Hello is counted");

        var options = fixture.ClientOptions(OtherKey);
        options.RequestTimeout = TimeSpan.FromMilliseconds(250);
        options.OperationTimeout = TimeSpan.FromMilliseconds(500);
        await using var client = new PaxosClient(options);
        var submit = () => client.SubmitAsync("SET a 1"u8.ToArray());
        (await submit.Should().ThrowAsync<PaxosClientException>()).Which.Reason.Should().Be(PaxosClientFailure.Timeout);
        listener.Counters.AuthenticationFailures.Should().BeGreaterThan(1);
        fixture.Cluster.Executions.Should().Be(0);
    }

    [Test]
    public async Task A_client_with_a_key_at_a_listener_without_one_is_closed_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        var listener = fixture.Listeners[0];
        var act = () => RawClient.ConnectAsync(listener.LocalEndpoint!, Key);
        await act.Should().ThrowAsync<Exception>();
        await Eventually.UntilAsync(() => listener.Counters.AuthenticationFailures == 1, "the sealed Hello is counted");
    }

    [Test]
    public async Task A_client_without_the_key_is_closed_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, key: Key);
        var listener = fixture.Listeners[0];
        var act = () => RawClient.ConnectAsync(listener.LocalEndpoint!);
        await act.Should().ThrowAsync<Exception>();
        await Eventually.UntilAsync(() => listener.Counters.AuthenticationFailures == 1, "the unsealed Hello is counted");
    }

    [Test]
    public async Task A_frame_replayed_within_the_connection_is_refused_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, key: Key);
        var listener = fixture.Listeners[0];
        await using var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!, Key);
        await raw.Wire.SendAsync(WireMessages.Bytes(FrameType.Status, 1, [], true), CancellationToken.None);
        (await raw.ReceiveAsync())!.Value.Type.Should().Be(FrameType.StatusReply);

        await raw.WriteRawAsync(raw.Written[^1]); // The Status frame again, as sent.
        (await raw.ClosedByListenerAsync()).Should().BeTrue();
        await Eventually.UntilAsync(() => listener.Counters.AuthenticationFailures == 1, "the replay is counted");
    }

    [Test]
    public async Task A_frame_changed_in_flight_is_refused_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, key: Key);
        var listener = fixture.Listeners[0];
        await using var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!, Key);
        var frame = WireMessages.Submit(1, 1L << 62, 1, "SET a 1"u8, true);
        await raw.Wire.SendAsync(frame, CancellationToken.None); // Sealed in place; now change a payload byte and resend.
        var changed = (byte[])raw.Written[^1].Clone();
        changed[^(WireFormat.TagBytes + 1)] ^= 1;
        await raw.WriteRawAsync(changed);
        (await raw.ClosedByListenerAsync()).Should().BeTrue();
        await Eventually.UntilAsync(() => listener.Counters.AuthenticationFailures == 1, "the changed frame is counted");
    }

    [Test]
    public async Task Connections_beyond_the_bound_are_refused_and_counted()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, configure: static o => o.MaxConnections = 2);
        var listener = fixture.Listeners[0];
        await using var first = await RawClient.ConnectAsync(listener.LocalEndpoint!);
        await using var second = await RawClient.ConnectAsync(listener.LocalEndpoint!);
        await Eventually.UntilAsync(() => listener.Counters.ConnectionsOpen == 2, "two connections open");

        var third = () => RawClient.ConnectAsync(listener.LocalEndpoint!);
        await third.Should().ThrowAsync<Exception>("the listener closes the third connection at once");
        listener.Counters.ConnectionsRefused.Should().Be(1);

        await first.DisposeAsync();
        await Eventually.UntilAsync(() => listener.Counters.ConnectionsOpen == 1, "the first connection is gone");
        await using var fourth = await RawClient.ConnectAsync(listener.LocalEndpoint!);
        await fourth.Wire.SendAsync(WireMessages.Bytes(FrameType.Status, 1, [], false), CancellationToken.None);
        (await fourth.ReceiveAsync())!.Value.Type.Should().Be(FrameType.StatusReply);
    }

    [Test]
    public async Task A_connection_with_the_most_requests_in_flight_is_not_read_further()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1, configure: static o =>
        {
            o.MaxInFlightPerConnection = 1;
            o.RequestTimeout = TimeSpan.FromMilliseconds(300);
        });
        fixture.Replicas[0].Hangs = true;
        var listener = fixture.Listeners[0];
        await using var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!);
        for (ulong id = 1; id <= 3; id++)
        {
            await raw.Wire.SendAsync(WireMessages.Submit(id, 1L << 62, (long)id, "SET a 1"u8, false), CancellationToken.None);
        }

        for (ulong id = 1; id <= 3; id++)
        {
            var answer = (await raw.ReceiveAsync())!.Value;
            (answer.Type, answer.RequestId).Should().Be((FrameType.Error, id));
            listener.Counters.Requests.Should().BeLessThanOrEqualTo((long)id + 1, "one request at a time is taken from the connection");
            WireMessages.TryReadError(answer.Body.Span, out var error).Should().BeTrue();
            error.Code.Should().Be(WireErrorCode.Timeout);
        }
    }

    [Test]
    public async Task Out_of_range_fields_get_BadRequest_and_the_connection_stays()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        await using var raw = await RawClient.ConnectAsync(fixture.Listeners[0].LocalEndpoint!);
        await raw.Wire.SendAsync(WireMessages.Submit(1, 0, 1, "x"u8, false), CancellationToken.None);
        var answer = (await raw.ReceiveAsync())!.Value;
        WireMessages.TryReadError(answer.Body.Span, out var error).Should().BeTrue();
        error.Code.Should().Be(WireErrorCode.BadRequest);
        await raw.Wire.SendAsync(WireMessages.Bytes(FrameType.Status, 2, [], false), CancellationToken.None);
        (await raw.ReceiveAsync())!.Value.Type.Should().Be(FrameType.StatusReply);
    }

    [Test]
    public void Bad_options_fail_with_a_message_that_names_them()
    {
        var options = new PaxosClientListenerOptions { ListenEndpoint = "nowhere", ClusterKey = "c2hvcnQ=", MaxConnections = 0 };
        var act = () => new PaxosClientListener(new FakeReplica(new FakeCluster(), 0), options);
        act.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().HaveCount(3).And.Contain(f => f.Contains("ListenEndpoint")).And.Contain(f => f.Contains("ClusterKey")).And.Contain(f => f.Contains("MaxConnections"));
    }

    [Test]
    public async Task Stop_closes_every_connection_and_is_idempotent()
    {
        await using var fixture = await FakeFixture.StartAsync(count: 1);
        var listener = fixture.Listeners[0];
        await using var raw = await RawClient.ConnectAsync(listener.LocalEndpoint!);
        await listener.StopAsync(CancellationToken.None);
        (await raw.ClosedByListenerAsync()).Should().BeTrue();
        await listener.StopAsync(CancellationToken.None);
        listener.Counters.ConnectionsOpen.Should().Be(0);
    }

    private static byte[] Length(int length)
    {
        var frame = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        return frame;
    }

    private static byte[] WithType(byte type)
    {
        var frame = WireMessages.Bytes(FrameType.Read, 1, "q"u8, false);
        frame[WireFormat.LengthBytes] = type;
        return frame;
    }
}
