using System.Text;
using Paxos.Client.Wire;

namespace Paxos.Client.Tests;

/// <summary>The frame codec: every message round-trips, and every truncated, flipped or garbled frame is refused
/// with a protocol or authentication error, never another exception.</summary>
public sealed class WireTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(static i => (byte)i).ToArray();
    private static readonly byte[] ClientNonce = Enumerable.Repeat((byte)7, WireFormat.NonceBytes).ToArray();
    private static readonly byte[] ReplicaNonce = Enumerable.Repeat((byte)9, WireFormat.NonceBytes).ToArray();

    [Test]
    public void Every_message_round_trips()
    {
        var payload = Encoding.UTF8.GetBytes("SET x 1");

        Decode(WireMessages.Hello(ClientNonce, false), out var type, out _, out var body).Should().BeTrue();
        type.Should().Be(FrameType.Hello);
        WireMessages.TryReadHello(body.Span, out var version, out var nonce).Should().BeTrue();
        (version, nonce).Should().BeEquivalentTo((WireFormat.Version, ClientNonce));

        Decode(WireMessages.Welcome(ReplicaNonce, 2, 1, false), out type, out _, out body).Should().BeTrue();
        WireMessages.TryReadWelcome(body.Span, out var welcome).Should().BeTrue();
        (type, welcome.ReplicaId, welcome.LeaderHint, welcome.ReplicaNonce).Should().BeEquivalentTo((FrameType.Welcome, 2, 1, ReplicaNonce));

        Decode(WireMessages.OpenSession(5, 1L << 61, false), out type, out var id, out body).Should().BeTrue();
        WireMessages.TryReadLong(body.Span, out var registration).Should().BeTrue();
        (type, id, registration).Should().Be((FrameType.OpenSession, 5UL, 1L << 61));

        Decode(WireMessages.SessionOpened(6, (1L << 62) | 3, false), out type, out id, out body).Should().BeTrue();
        WireMessages.TryReadLong(body.Span, out var session).Should().BeTrue();
        (type, id, session).Should().Be((FrameType.SessionOpened, 6UL, (1L << 62) | 3));

        Decode(WireMessages.Submit(7, 11, 12, payload, false), out type, out id, out body).Should().BeTrue();
        WireMessages.TryReadSubmit(body, out session, out var sequence, out var read).Should().BeTrue();
        (type, id, session, sequence).Should().Be((FrameType.Submit, 7UL, 11L, 12L));
        read.ToArray().Should().Equal(payload);

        foreach (var bytesType in new[] { FrameType.Read, FrameType.Executed, FrameType.ReadResult })
        {
            Decode(WireMessages.Bytes(bytesType, 8, payload, false), out type, out id, out body).Should().BeTrue();
            (type, id).Should().Be((bytesType, 8UL));
            body.ToArray().Should().Equal(payload);
        }

        Decode(WireMessages.StatusReply(9, new WireStatus(1, 0, WireReplicaState.RegularNonLeader), false), out type, out id, out body).Should().BeTrue();
        WireMessages.TryReadStatusReply(body.Span, out var status).Should().BeTrue();
        status.Should().Be(new WireStatus(1, 0, WireReplicaState.RegularNonLeader));

        Decode(WireMessages.Error(10, WireErrorCode.SessionExpired, 2, "gone", false), out type, out id, out body).Should().BeTrue();
        WireMessages.TryReadError(body.Span, out var error).Should().BeTrue();
        error.Should().Be(new WireError(WireErrorCode.SessionExpired, 2, "gone"));
    }

    [Test]
    public void An_error_message_is_cut_to_its_bound()
    {
        var frame = WireMessages.Error(1, WireErrorCode.Unavailable, -1, new string('x', 5000), false);
        Decode(frame, out _, out _, out var body).Should().BeTrue();
        WireMessages.TryReadError(body.Span, out var error).Should().BeTrue();
        error.Message.Should().HaveLength(WireFormat.MaxErrorMessageBytes);
    }

    [Test]
    public async Task A_sealed_frame_passes_once_and_only_at_its_counter()
    {
        var first = Sealed(WireMessages.Bytes(FrameType.Read, 1, "GET x"u8, true), counter: 1);
        var second = Sealed(WireMessages.Bytes(FrameType.Read, 2, "GET y"u8, true), counter: 2);

        (await ReceiveAllAsync([.. first, .. second], authenticated: true)).Should().Be("Read Read");
        (await ReceiveAllAsync([.. first, .. first], authenticated: true)).Should().Be("Read WireAuthenticationException", "a frame replayed within a connection has the wrong counter");
        (await ReceiveAllAsync([.. second], authenticated: true)).Should().Be("WireAuthenticationException", "a frame out of its place fails");
    }

    [Test]
    public async Task Every_truncation_of_a_sealed_frame_is_refused()
    {
        var frame = Sealed(WireMessages.Submit(3, 11, 12, "SET x 1"u8, true), counter: 1);
        for (var length = 1; length < frame.Length; length++)
        {
            var outcome = await ReceiveAllAsync(frame[..length], authenticated: true);
            outcome.Should().Be("WireProtocolException", $"a frame cut to {length} of {frame.Length} bytes ends inside a frame");
        }

        // A frame whose length prefix is shortened to match its cut: the tag no longer fits, or fails.
        for (var cut = 1; cut < frame.Length - WireFormat.LengthBytes; cut++)
        {
            var shorter = frame[..^cut];
            BitConverter.TryWriteBytes(shorter.AsSpan(0, 4), shorter.Length - WireFormat.LengthBytes).Should().BeTrue();
            var outcome = await ReceiveAllAsync(shorter, authenticated: true);
            outcome.Should().BeOneOf("WireProtocolException", "WireAuthenticationException");
        }
    }

    [Test]
    public async Task Every_bit_flip_of_a_sealed_frame_is_refused()
    {
        var frame = Sealed(WireMessages.Submit(3, 11, 12, "SET x 1"u8, true), counter: 1);
        for (var bit = 0; bit < frame.Length * 8; bit++)
        {
            var flipped = (byte[])frame.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            var outcome = await ReceiveAllAsync(flipped, authenticated: true);
            outcome.Should().BeOneOf(["WireProtocolException", "WireAuthenticationException"], $"bit {bit} flipped");
        }
    }

    [Test]
    public async Task Random_garbage_never_throws_anything_but_a_protocol_error()
    {
        var random = new Random(17);
        var valid = new[]
        {
            WireMessages.Submit(3, 11, 12, "SET x 1"u8, false),
            WireMessages.Error(1, WireErrorCode.Timeout, 0, "late", false),
            WireMessages.StatusReply(2, new WireStatus(0, 0, WireReplicaState.RegularLeader), false),
            WireMessages.Welcome(ReplicaNonce, 1, 0, false),
        };
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])valid[i % valid.Length].Clone();
            var mutations = 1 + random.Next(4);
            for (var m = 0; m < mutations; m++)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                bytes = bytes[..random.Next(bytes.Length)];
            }

            // Unauthenticated frames may decode to something valid after a change: what matters is that nothing
            // but a protocol error escapes, and that every body decoder refuses what does not fit.
            var outcome = await ReceiveAllAsync(bytes, authenticated: false, decodeBodies: true);
            outcome.Should().NotContain("Unexpected");
        }
    }

    [Test]
    public async Task A_length_beyond_the_bound_is_refused_before_anything_is_allocated()
    {
        var frame = new byte[8];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), int.MaxValue).Should().BeTrue();
        (await ReceiveAllAsync(frame, authenticated: false)).Should().Be("WireProtocolException");
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), -1).Should().BeTrue();
        (await ReceiveAllAsync(frame, authenticated: false)).Should().Be("WireProtocolException");
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), 0).Should().BeTrue();
        (await ReceiveAllAsync(frame, authenticated: false)).Should().Be("WireProtocolException");
    }

    [Test]
    public async Task An_unknown_type_is_refused()
    {
        var frame = WireMessages.Bytes(FrameType.Read, 1, "q"u8, false);
        frame[WireFormat.LengthBytes] = 0x7E;
        (await ReceiveAllAsync(frame, authenticated: false)).Should().Be("WireProtocolException");
    }

    [Test]
    public void Body_decoders_refuse_bodies_that_do_not_fit()
    {
        WireMessages.TryReadLong(new byte[7], out _).Should().BeFalse();
        WireMessages.TryReadLong(new byte[9], out _).Should().BeFalse();
        WireMessages.TryReadSubmit(new byte[15], out _, out _, out _).Should().BeFalse();
        WireMessages.TryReadHello(new byte[21], out _, out _).Should().BeFalse("the magic is missing");
        WireMessages.TryReadWelcome(new byte[24], out _).Should().BeFalse();
        WireMessages.TryReadStatusReply(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 9 }, out _).Should().BeFalse("state 9 is not a state");
        WireMessages.TryReadError(new byte[] { 200, 0, 0, 0, 0, 0, 0 }, out _).Should().BeFalse("code 200 is not a code");
        WireMessages.TryReadError(new byte[] { 1, 0, 0, 0, 0, 5, 0, 1 }, out _).Should().BeFalse("the message is shorter than its length");
    }

    private static byte[] Sealed(byte[] frame, ulong counter)
    {
        using var seal = new FrameAuthenticator(Key, FrameDirection.ClientToReplica, ClientNonce, ReplicaNonce, counter);
        seal.Seal(frame);
        return frame;
    }

    private static bool Decode(byte[] frame, out FrameType type, out ulong requestId, out ReadOnlyMemory<byte> body) =>
        WireFormat.TryParseHeader(frame.AsMemory(WireFormat.LengthBytes), out type, out requestId, out body);

    /// <summary>Receives every frame in <paramref name="bytes"/> as a replica would after the handshake, and describes
    /// what happened: the frame types, then the exception that stopped it, if any.</summary>
    private static async Task<string> ReceiveAllAsync(byte[] bytes, bool authenticated, bool decodeBodies = false)
    {
        var outcome = new List<string>();
        var reader = new FrameReader(new MemoryStream(bytes), WireFormat.DefaultMaxFrameBytes, authenticated);
        using var check = new FrameAuthenticator(Key, FrameDirection.ClientToReplica, ClientNonce, ReplicaNonce, 1);
        try
        {
            for (var i = 0; i < 100; i++)
            {
                if (await reader.ReadAsync(CancellationToken.None) is not { } content)
                {
                    break;
                }

                if (authenticated && !check.Check(content.Span))
                {
                    throw new WireAuthenticationException("tag");
                }

                var untagged = authenticated ? content[..^WireFormat.TagBytes] : content;
                if (!WireFormat.TryParseHeader(untagged, out var type, out _, out var body))
                {
                    throw new WireProtocolException("type");
                }

                if (decodeBodies)
                {
                    _ = WireMessages.TryReadSubmit(body, out _, out _, out _) | WireMessages.TryReadError(body.Span, out _)
                        | WireMessages.TryReadStatusReply(body.Span, out _) | WireMessages.TryReadWelcome(body.Span, out _)
                        | WireMessages.TryReadHello(body.Span, out _, out _) | WireMessages.TryReadLong(body.Span, out _);
                }

                outcome.Add(type.ToString());
            }
        }
        catch (Exception exception) when (exception is WireProtocolException or WireAuthenticationException)
        {
            outcome.Add(exception.GetType().Name);
        }
        catch (Exception exception)
        {
            outcome.Add("Unexpected " + exception);
        }

        return string.Join(' ', outcome);
    }
}
