using System.Globalization;

namespace Paxos;

/// <summary>
/// An update a client asks the cluster to order (PfSB's <c>Client_Update</c>): the client's id, the
/// client's timestamp and an opaque payload. A client has at most one outstanding update, and its
/// timestamps increase (by one per update, as PfSB assumes); (client id, timestamp) names the
/// update for ever, so re-submitting the same pair never executes it twice. A client the cluster does not
/// remember (new, or silent for <see cref="Protocol.ProtocolOptions.ClientExpirySlots"/> slots) starts a session
/// at <see cref="ReplicaStatus.SessionStartTimestamp"/>; an update at or below the expiry mark is refused as
/// expired rather than risk a second execution (docs/protocol-notes.md, "Client table bound and expiry").
/// A <see cref="ClientSession"/> avoids choosing ids and timestamps at all: its id is handed out by the cluster and its
/// updates are numbered 1, 2, 3, … (docs/protocol-notes.md, "Client sessions").
/// </summary>
/// <remarks>Instances are immutable and may be shared between replicas in one process.</remarks>
public sealed class ClientUpdate
{
    /// <summary>The protocol's no-op: it fills holes after a view change (G7) and serves as the idle
    /// leader's heartbeat (G6). It is ordered like any update and never reaches the executor.</summary>
    public static ClientUpdate NoOp { get; } = new(ClientId.None, 0, ReadOnlyMemory<byte>.Empty, ReplicaId.None, validate: false);

    /// <summary>Creates an update to submit.</summary>
    /// <param name="clientId">The client's id: one the application chose, from 1 to
    /// <see cref="ClientSession.MaxApplicationClientId"/> (2^61 − 1), or a session id the cluster handed out
    /// (<see cref="ClientSession"/>). Ids with bit 61 set and bit 62 clear are registration nonces, which only
    /// <see cref="ClientSession.RegistrationUpdate"/> makes.</param>
    /// <param name="timestamp">The client's sequence number for this update; positive.</param>
    /// <param name="payload">The application's opaque bytes. They are not copied: do not change them afterwards.</param>
    /// <exception cref="ArgumentOutOfRangeException">The client id or the timestamp is not positive, or the client id is
    /// a registration nonce.</exception>
    public ClientUpdate(ClientId clientId, long timestamp, ReadOnlyMemory<byte> payload)
        : this(clientId, timestamp, payload, ReplicaId.None, validate: true)
    {
    }

    internal ClientUpdate(ClientId clientId, long timestamp, ReadOnlyMemory<byte> payload, ReplicaId origin, bool validate)
    {
        if (validate)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clientId.Value, nameof(clientId));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(timestamp);
            if (ClientSession.IsRegistration(clientId))
            {
                throw new ArgumentOutOfRangeException(nameof(clientId), clientId,
                    "Client ids from 2^61 to 2^62 - 1 are registration nonces, reserved for ClientSession.RegistrationUpdate; an application's own ids stay below 2^61.");
            }
        }

        ClientId = clientId;
        Timestamp = timestamp;
        Payload = payload;
        Origin = origin;
    }

    /// <summary>The client that issued the update.</summary>
    public ClientId ClientId { get; }

    /// <summary>The client's timestamp: its own sequence number for this update.</summary>
    public long Timestamp { get; }

    /// <summary>The application's bytes.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The replica the client submitted the update to (PfSB's <c>server_id</c>), which is
    /// responsible for it until it executes; <see cref="ReplicaId.None"/> before submission.</summary>
    public ReplicaId Origin { get; }

    /// <summary>Whether this is the protocol's <see cref="NoOp"/>.</summary>
    public bool IsNoOp => ClientId == ClientId.None;

    internal ClientUpdate WithOrigin(ReplicaId origin) =>
        origin == Origin ? this : new ClientUpdate(ClientId, Timestamp, Payload, origin, validate: false);

    /// <summary>Whether the two updates are the same update: same client, timestamp and payload.</summary>
    internal bool SameAs(ClientUpdate other) =>
        ReferenceEquals(this, other)
        || (ClientId == other.ClientId && Timestamp == other.Timestamp && Payload.Span.SequenceEqual(other.Payload.Span));

    /// <summary>A short description, <c>c7#12</c> (client 7, timestamp 12), or <c>noop</c>.</summary>
    public override string ToString() =>
        IsNoOp ? "noop" : string.Create(CultureInfo.InvariantCulture, $"c{ClientId.Value}#{Timestamp}");
}
