using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Paxos;

/// <summary>
/// A client session: a cluster-unique client id that the cluster handed out through its log
/// (<see cref="PaxosNode.OpenSessionAsync"/>), and the numbering of the session's updates, 1, 2, 3, … A client that
/// restarts opens a new session; nothing has to keep timestamps on disk.
/// </summary>
/// <remarks>
/// <para>Client ids are split in three ranges. Ids below 2^61 (<see cref="MaxApplicationClientId"/> and below) are the
/// application's own, as before sessions existed. Ids with bit 61 set (and bit 62 clear) are registration nonces: an
/// update (nonce, timestamp 1, no payload) registers a session, and a retry of it with the same nonce is answered
/// with the same session. Ids with bit 62 set are sessions: 2^62 | the slot at which the registration executed, so
/// every replica computes the same id and no two sessions share one.</para>
/// <para>At execution, on every replica alike: an update of a session the client table does not hold (it expired
/// after <see cref="PaxosOptions.ClientExpirySlots"/> idle slots, or was never registered) is refused as
/// <see cref="Protocol.ReplyStatus.Expired"/>; an update whose timestamp is not the session's last one plus one is
/// refused as <see cref="Protocol.ReplyStatus.OutOfOrder"/>; a retry of the last one is answered from the table. Neither
/// refusal executes the update (docs/protocol-notes.md, "Client sessions").</para>
/// <para>The instance is safe to share between threads, for a client with one outstanding update at a time (the
/// library's model of a client): <see cref="NextUpdate"/> hands out each timestamp once.</para>
/// </remarks>
public sealed class ClientSession
{
    /// <summary>The largest client id an application may choose itself (2^61 − 1); larger ids are the library's.</summary>
    public const long MaxApplicationClientId = RegistrationBit - 1;

    internal const long RegistrationBit = 1L << 61;
    internal const long SessionBit = 1L << 62;

    /// <summary>The bytes of a registration's reply: the session id, little-endian.</summary>
    internal const int RegistrationReplyBytes = 8;

    private long _lastTimestamp;

    /// <summary>Creates the numbering of a session the cluster registered, for a client that starts it.</summary>
    /// <param name="id">The session id, as <see cref="PaxosNode.RegisterSessionAsync"/> returned it.</param>
    /// <param name="lastTimestamp">The timestamp of the session's last update that the client submitted (0 for a new
    /// session): <see cref="NextUpdate"/> continues after it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not a session id, or
    /// <paramref name="lastTimestamp"/> is negative.</exception>
    public ClientSession(ClientId id, long lastTimestamp = 0)
    {
        if (!IsSessionId(id))
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, "Not a session id (bit 62 set): open a session with PaxosNode.OpenSessionAsync.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(lastTimestamp);
        Id = id;
        _lastTimestamp = lastTimestamp;
    }

    /// <summary>The session's client id.</summary>
    public ClientId Id { get; }

    /// <summary>The timestamp of the last update <see cref="NextUpdate"/> made (0 before the first).</summary>
    public long LastTimestamp => Volatile.Read(ref _lastTimestamp);

    /// <summary>Makes the session's next update: the session's id and the next timestamp. Submit it — and, after a
    /// failure that may not be final (a timeout, a stopped node), submit the same instance again, anywhere — before
    /// making the next one: the cluster executes a session's updates only in order.</summary>
    /// <param name="payload">The application's bytes; not copied.</param>
    /// <returns>The update.</returns>
    public ClientUpdate NextUpdate(ReadOnlyMemory<byte> payload) => new(Id, Interlocked.Increment(ref _lastTimestamp), payload);

    /// <summary>Whether <paramref name="client"/> is a session id (bit 62 set).</summary>
    public static bool IsSessionId(ClientId client) => (client.Value & SessionBit) != 0;

    /// <summary>Whether <paramref name="registrationNonce"/> is a registration nonce (bit 61 set, bit 62 and the sign
    /// bit clear).</summary>
    public static bool IsRegistrationNonce(long registrationNonce) => (registrationNonce & (SessionBit | RegistrationBit | long.MinValue)) == RegistrationBit;

    /// <summary>Draws a random registration nonce (2^61 | 61 random bits), for a client that registers through a
    /// remote replica and may have to retry elsewhere with the same nonce.</summary>
    public static long NewRegistrationNonce() =>
        RegistrationBit | (BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(8)) & MaxApplicationClientId);

    /// <summary>The update that registers a session under <paramref name="registrationNonce"/>: (nonce, timestamp 1, no
    /// payload). It is ordered like any update and never reaches the executor; its reply is the session id
    /// (<see cref="SessionIdOf"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a registration nonce (<see cref="IsRegistrationNonce"/>).</exception>
    public static ClientUpdate RegistrationUpdate(long registrationNonce)
    {
        if (!IsRegistrationNonce(registrationNonce))
        {
            throw new ArgumentOutOfRangeException(nameof(registrationNonce), registrationNonce, "A registration nonce has bit 61 set and bits 62 and 63 clear (ClientSession.NewRegistrationNonce draws one).");
        }

        return new ClientUpdate(new ClientId(registrationNonce), 1, ReadOnlyMemory<byte>.Empty, ReplicaId.None, validate: false);
    }

    /// <summary>The session id a registration's reply carries.</summary>
    /// <exception cref="FormatException">The reply is not a registration's.</exception>
    public static ClientId SessionIdOf(ReadOnlySpan<byte> registrationReply)
    {
        var id = registrationReply.Length == RegistrationReplyBytes ? BinaryPrimitives.ReadInt64LittleEndian(registrationReply) : 0;
        if (id <= 0 || !IsSessionId(new ClientId(id)))
        {
            throw new FormatException("Not the reply of a session registration (8 bytes: a session id, little-endian).");
        }

        return new ClientId(id);
    }

    internal static bool IsRegistration(ClientId client) => IsRegistrationNonce(client.Value);

    /// <summary>Whether the client table treats <paramref name="client"/> by the session rules (a nonce or a session),
    /// outside the expiry mark's.</summary>
    internal static bool IsReserved(ClientId client) => client.Value > MaxApplicationClientId;

    /// <summary>The session id a registration executed at <paramref name="sequence"/> creates.</summary>
    internal static ClientId SessionAt(long sequence) => new(SessionBit | sequence);

    /// <summary>The slot a session's registration executed at.</summary>
    internal static long RegisteredAt(ClientId session) => session.Value & ~SessionBit;

    internal static byte[] RegistrationReply(ClientId session)
    {
        var reply = new byte[RegistrationReplyBytes];
        BinaryPrimitives.WriteInt64LittleEndian(reply, session.Value);
        return reply;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"session@{RegisteredAt(Id)}#{LastTimestamp}");
}
