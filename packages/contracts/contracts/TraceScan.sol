// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

interface IGhostCoreForScan {
    function nextScanTime(uint8 level) external view returns (uint64);
    function getEffectiveDeathRate(address user) external view returns (uint16);
    function isAlive(address user) external view returns (bool);
    function getLevelOf(address user) external view returns (uint8);
    function processDeaths(uint8 level, address[] calldata deadUsers) external returns (uint256 totalDead);
    function finalizeScan(uint8 level, uint256 deathCount, uint256 totalDead) external;
}

/// @title TraceScan (local development)
/// @notice The scan lifecycle: executeScan draws a seed, anyone submits the victims the rule selects (the
///         contract verifies each one and reverts otherwise), finalizeScan closes the scan after the window.
contract TraceScan {
    struct Scan {
        uint256 scanId;
        uint256 seed;
        uint64 executedAt;
        uint64 finalizedAt;
        uint256 totalDeadCapital;
        uint256 deathCount;
        bool active;
        bool finalized;
    }

    uint256 public constant MAX_BATCH_SIZE = 100;
    uint256 public constant BPS = 10_000;

    IGhostCoreForScan public immutable ghostCore;
    address public owner;
    /// @notice Global across levels; the first scan is 1.
    uint256 public scanNonce;
    uint64 public submissionWindow = 120;
    /// @notice Mixed into every seed. Seeds are otherwise a function of (chain, contract, level, scanId), so a
    ///         simulator run replays identically; production draws them from block randomness instead.
    bytes32 public seedSalt;
    mapping(uint8 => Scan) internal _scans;

    event ScanExecuted(uint8 indexed level, uint256 indexed scanId, uint256 seed, uint64 executedAt);
    event DeathsSubmitted(
        uint8 indexed level, uint256 indexed scanId, uint256 count, uint256 totalDead, address indexed submitter
    );
    event ScanFinalized(
        uint8 indexed level, uint256 indexed scanId, uint256 deathCount, uint256 totalDead, uint64 finalizedAt
    );

    error InvalidLevel();
    error NotAuthorized();
    error ScanAlreadyActive();
    error ScanNotDue();
    error NoActiveScan();
    error SubmissionWindowClosed();
    error SubmissionWindowOpen();
    error EmptyBatch();
    error BatchTooLarge();
    error UserShouldNotDie(address user);

    constructor(address ghostCore_) {
        ghostCore = IGhostCoreForScan(ghostCore_);
        owner = msg.sender;
    }

    modifier validLevel(uint8 level) {
        if (level == 0 || level > 5) revert InvalidLevel();
        _;
    }

    function executeScan(uint8 level) external validLevel(level) {
        Scan storage scan = _scans[level];
        if (scan.active) revert ScanAlreadyActive();
        if (block.timestamp < ghostCore.nextScanTime(level)) revert ScanNotDue();
        uint256 scanId = ++scanNonce;
        uint256 seed = uint256(keccak256(abi.encode(seedSalt, block.chainid, address(this), level, scanId)));
        _scans[level] = Scan({
            scanId: scanId,
            seed: seed,
            executedAt: uint64(block.timestamp),
            finalizedAt: 0,
            totalDeadCapital: 0,
            deathCount: 0,
            active: true,
            finalized: false
        });
        emit ScanExecuted(level, scanId, seed, uint64(block.timestamp));
    }

    /// @notice Submits up to 100 victims. Every one must be alive at `level` and die by the rule, else the
    ///         whole call reverts: the call's input is then exactly the list of this batch's victims.
    function submitDeaths(uint8 level, address[] calldata users) external validLevel(level) {
        Scan storage scan = _scans[level];
        if (!scan.active) revert NoActiveScan();
        if (block.timestamp >= scan.executedAt + submissionWindow) revert SubmissionWindowClosed();
        if (users.length == 0) revert EmptyBatch();
        if (users.length > MAX_BATCH_SIZE) revert BatchTooLarge();
        uint256 seed = scan.seed;
        for (uint256 i; i < users.length; ++i) {
            if (!isDead(seed, users[i], ghostCore.getEffectiveDeathRate(users[i]))) {
                revert UserShouldNotDie(users[i]);
            }
        }
        uint256 totalDead = ghostCore.processDeaths(level, users);
        scan.deathCount += users.length;
        scan.totalDeadCapital += totalDead;
        emit DeathsSubmitted(level, scan.scanId, users.length, totalDead, msg.sender);
    }

    function finalizeScan(uint8 level) external validLevel(level) {
        Scan storage scan = _scans[level];
        if (!scan.active) revert NoActiveScan();
        if (block.timestamp < scan.executedAt + submissionWindow) revert SubmissionWindowOpen();
        scan.active = false;
        scan.finalized = true;
        scan.finalizedAt = uint64(block.timestamp);
        ghostCore.finalizeScan(level, scan.deathCount, scan.totalDeadCapital);
        emit ScanFinalized(level, scan.scanId, scan.deathCount, scan.totalDeadCapital, uint64(block.timestamp));
    }

    // ─── Views ──────────────────────────────────────────────────────────────────────────────────────────

    /// @notice The death rule: `keccak256(abi.encode(seed, user)) % 10000 < deathRateBps`.
    function isDead(uint256 seed, address user, uint16 deathRateBps) public pure returns (bool) {
        return uint256(keccak256(abi.encode(seed, user))) % BPS < deathRateBps;
    }

    /// @notice Whether the active scan of `level` kills `user` if submitted now.
    function wouldDie(uint8 level, address user) external view returns (bool) {
        Scan storage scan = _scans[level];
        if (!scan.active || !ghostCore.isAlive(user) || ghostCore.getLevelOf(user) != level) return false;
        return isDead(scan.seed, user, ghostCore.getEffectiveDeathRate(user));
    }

    function canExecuteScan(uint8 level) external view returns (bool) {
        if (level == 0 || level > 5) return false;
        return !_scans[level].active && block.timestamp >= ghostCore.nextScanTime(level);
    }

    function canFinalizeScan(uint8 level) external view returns (bool) {
        if (level == 0 || level > 5) return false;
        Scan storage scan = _scans[level];
        return scan.active && block.timestamp >= scan.executedAt + submissionWindow;
    }

    function getCurrentScan(uint8 level) external view returns (Scan memory) {
        return _scans[level];
    }

    // ─── Owner ──────────────────────────────────────────────────────────────────────────────────────────

    function setSubmissionWindow(uint64 window) external {
        if (msg.sender != owner) revert NotAuthorized();
        submissionWindow = window;
    }

    function setSeedSalt(bytes32 salt) external {
        if (msg.sender != owner) revert NotAuthorized();
        seedSalt = salt;
    }
}
