// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

interface IERC20Like {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
}

/// @title GhostCore (local development)
/// @notice Positions, deaths, cascade, emissions, boosts and the system reset of GHOSTNET, written for the
///         backend's local chain. Events, their order within a transaction and the rules the backend relies on
///         follow the production contract (see ghostnet-game-facts.md); internals are simpler where the backend
///         cannot tell the difference (no proxy, no roles: one owner; streaks and reset penalties are lazy).
contract GhostCore {
    // ─── Types ──────────────────────────────────────────────────────────────────────────────────────────

    enum Level {
        NONE,
        VAULT,
        MAINFRAME,
        SUBNET,
        DARKNET,
        BLACK_ICE
    }

    enum BoostType {
        DEATH_REDUCTION,
        YIELD_MULTIPLIER
    }

    /// @notice What getPosition returns: the production contract's Position layout.
    struct Position {
        uint256 amount;
        Level level;
        uint64 entryTimestamp;
        uint64 lastAddTimestamp;
        uint256 rewardDebt;
        bool alive;
        uint16 ghostStreak;
    }

    struct LevelConfig {
        uint16 baseDeathRateBps;
        uint32 scanInterval;
        uint256 minStake;
        uint32 maxPositions;
        uint16 cullingBottomPct;
        uint16 cullingPenaltyBps;
    }

    struct LevelState {
        uint256 totalStaked;
        uint256 aliveCount;
        uint256 accRewardsPerShare;
        uint64 nextScanTime;
    }

    struct Boost {
        BoostType boostType;
        uint16 valueBps;
        uint64 expiry;
    }

    struct SystemReset {
        uint64 deadline;
        address lastDepositor;
        uint64 lastDepositTime;
        uint256 epoch;
        uint16 penaltyBps;
    }

    /// @dev Storage form of a position. `amount`, `rewardDebt` and `storedRewards` are as of `resetEpoch`;
    ///      resets since then are applied on read and on the next write.
    struct StoredPosition {
        uint256 amount;
        uint256 rewardDebt;
        uint256 storedRewards;
        Level level;
        bool alive;
        bool culled;
        uint64 entryTimestamp;
        uint64 lastAddTimestamp;
        uint32 resetEpoch;
        // Streaks are lazy: the level's count of finalized scans when this position entered. Finalizing a
        // scan then costs O(1) instead of a loop over every survivor, and gives the same numbers.
        uint32 streakBase;
        uint16 frozenStreak;
    }

    // ─── Constants ──────────────────────────────────────────────────────────────────────────────────────

    bytes32 public constant BOOST_TYPEHASH =
        keccak256("Boost(address user,uint8 boostType,uint16 valueBps,uint64 expiry,bytes32 nonce)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("GHOSTNET");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1n / 2: signatures with a larger s are malleable twins and are refused.
    uint256 private constant MAX_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    uint256 public constant BPS = 10_000;
    uint256 public constant REWARD_PRECISION = 1e18;
    uint64 public constant LOCK_PERIOD = 60;
    uint16 public constant CASCADE_SAME_LEVEL_BPS = 3000;
    uint16 public constant CASCADE_UPSTREAM_BPS = 3000;
    uint16 public constant CASCADE_BURN_BPS = 3000;
    uint16 public constant SYSTEM_RESET_PENALTY_BPS = 2500;
    uint16 public constant JACKPOT_SHARE_BPS = 5000;
    uint16 public constant RESET_BURN_SHARE_BPS = 3000;
    uint64 public constant MAX_RESET_DEADLINE = 24 hours;
    address public constant DEAD_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    // ─── Storage ────────────────────────────────────────────────────────────────────────────────────────

    IERC20Like public immutable dataToken;
    address public owner;
    address public traceScan;
    address public treasury;
    address public boostSigner;
    bool public paused;

    mapping(address => StoredPosition) internal _positions;
    mapping(uint8 => LevelConfig) internal _levelConfigs;
    mapping(uint8 => LevelState) internal _levelStates;
    mapping(uint8 => uint32) public finalizedScans;
    mapping(uint8 => address[]) internal _levelPositions;
    mapping(address => uint256) internal _positionIndex;
    mapping(address => Boost[]) internal _boosts;
    mapping(bytes32 => bool) public usedNonces;
    /// @dev epoch → level → accRewardsPerShare at the reset that closed that epoch.
    mapping(uint256 => mapping(uint8 => uint256)) internal _accAtReset;
    SystemReset internal _systemReset;

    // ─── Events (exact production signatures) ───────────────────────────────────────────────────────────

    event JackedIn(address indexed user, uint256 amount, Level indexed level, uint256 newTotal);
    event StakeAdded(address indexed user, uint256 amount, uint256 newTotal);
    event Extracted(address indexed user, uint256 amount, uint256 rewards);
    event DeathsProcessed(
        Level indexed level, uint256 count, uint256 totalDead, uint256 burned, uint256 distributed
    );
    event SurvivorsUpdated(Level indexed level, uint256 count);
    event CascadeDistributed(
        Level indexed sourceLevel,
        uint256 sameLevelAmount,
        uint256 upstreamAmount,
        uint256 burnAmount,
        uint256 protocolAmount
    );
    event EmissionsAdded(Level indexed level, uint256 amount);
    event BoostApplied(address indexed user, BoostType boostType, uint16 valueBps, uint64 expiry);
    event SystemResetTriggered(uint256 totalPenalty, address indexed jackpotWinner, uint256 jackpotAmount);
    event PositionCulled(
        address indexed victim, uint256 penaltyAmount, uint256 returnedAmount, address indexed newEntrant
    );

    // ─── Errors ─────────────────────────────────────────────────────────────────────────────────────────

    error InvalidLevel();
    error InvalidAmount();
    error InvalidBoostType();
    error PositionAlreadyExists();
    error NoPositionExists();
    error PositionDead();
    error PositionLocked();
    error LevelMismatch();
    error BelowMinimumStake();
    error InvalidSignature();
    error SignatureExpired();
    error NonceAlreadyUsed();
    error LevelAtCapacity();
    error NotAuthorized();
    error SystemResetNotReady();
    error EnforcedPause();
    error TraceScanAlreadySet();
    error ECDSAInvalidSignature();
    error ECDSAInvalidSignatureLength(uint256 length);
    error ECDSAInvalidSignatureS(bytes32 s);

    // ─── Set-up ─────────────────────────────────────────────────────────────────────────────────────────

    constructor(address dataToken_, address treasury_, address boostSigner_) {
        dataToken = IERC20Like(dataToken_);
        owner = msg.sender;
        treasury = treasury_;
        boostSigner = boostSigner_;
        _systemReset = SystemReset({
            deadline: uint64(block.timestamp) + MAX_RESET_DEADLINE,
            lastDepositor: address(0),
            lastDepositTime: uint64(block.timestamp),
            epoch: 1,
            penaltyBps: 0
        });
        _initLevel(1, 500, 4 hours, 10e18, 5000);
        _initLevel(2, 1500, 3 hours, 25e18, 3000);
        _initLevel(3, 2500, 2 hours, 50e18, 1500);
        _initLevel(4, 3500, 1 hours, 100e18, 500);
        _initLevel(5, 4500, 30 minutes, 250e18, 100);
    }

    function _initLevel(uint8 level, uint16 deathBps, uint32 interval, uint256 minStake, uint32 maxPositions)
        private
    {
        _levelConfigs[level] = LevelConfig({
            baseDeathRateBps: deathBps,
            scanInterval: interval,
            minStake: minStake,
            maxPositions: maxPositions,
            cullingBottomPct: 5000,
            cullingPenaltyBps: 8000
        });
        _levelStates[level].nextScanTime = uint64(block.timestamp) + interval;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotAuthorized();
        _;
    }

    modifier onlyTraceScan() {
        if (msg.sender != traceScan) revert NotAuthorized();
        _;
    }

    modifier whenNotPaused() {
        if (paused) revert EnforcedPause();
        _;
    }

    // ─── Players ────────────────────────────────────────────────────────────────────────────────────────

    function jackIn(uint256 amount, uint8 level) external whenNotPaused {
        if (level == 0 || level > 5) revert InvalidLevel();
        if (amount == 0) revert InvalidAmount();
        StoredPosition storage pos = _positions[msg.sender];
        // Dead and culled positions keep their level, so those addresses can never enter again.
        if (pos.level != Level.NONE) revert PositionAlreadyExists();
        LevelConfig storage config = _levelConfigs[level];
        if (amount < config.minStake) revert BelowMinimumStake();
        LevelState storage state = _levelStates[level];

        if (config.maxPositions > 0 && state.aliveCount >= config.maxPositions) {
            _cull(level, msg.sender);
        }

        pos.amount = amount;
        pos.level = Level(level);
        pos.alive = true;
        pos.entryTimestamp = uint64(block.timestamp);
        pos.lastAddTimestamp = uint64(block.timestamp);
        pos.rewardDebt = (amount * state.accRewardsPerShare) / REWARD_PRECISION;
        pos.resetEpoch = uint32(_systemReset.epoch);
        pos.streakBase = finalizedScans[level];

        state.totalStaked += amount;
        state.aliveCount += 1;
        _positionIndex[msg.sender] = _levelPositions[level].length;
        _levelPositions[level].push(msg.sender);

        emit JackedIn(msg.sender, amount, Level(level), amount);

        _pull(msg.sender, amount);
        _extendResetTimer(amount);
    }

    /// @notice Adds to an alive position. Pending rewards are forfeited, as in production.
    function addStake(uint256 amount) external whenNotPaused {
        if (amount == 0) revert InvalidAmount();
        StoredPosition storage pos = _positions[msg.sender];
        if (pos.level == Level.NONE) revert NoPositionExists();
        if (!pos.alive) revert PositionDead();
        _settle(pos);
        LevelState storage state = _levelStates[uint8(pos.level)];

        pos.amount += amount;
        pos.lastAddTimestamp = uint64(block.timestamp);
        pos.rewardDebt = (pos.amount * state.accRewardsPerShare) / REWARD_PRECISION;
        pos.storedRewards = 0;
        state.totalStaked += amount;

        _pull(msg.sender, amount);
        _extendResetTimer(amount);

        emit StakeAdded(msg.sender, amount, pos.amount);
    }

    function extract() external whenNotPaused returns (uint256 amount, uint256 rewards) {
        StoredPosition storage pos = _positions[msg.sender];
        if (pos.level == Level.NONE) revert NoPositionExists();
        if (!pos.alive) revert PositionDead();
        uint8 level = uint8(pos.level);
        if (_isInLockPeriod(level)) revert PositionLocked();
        _settle(pos);

        LevelState storage state = _levelStates[level];
        amount = pos.amount;
        rewards = _pending(pos, state.accRewardsPerShare);

        state.totalStaked = _saturatingSub(state.totalStaked, amount);
        state.aliveCount -= 1;
        if (state.aliveCount == 0) state.totalStaked = 0;
        _removeFromLevel(level, msg.sender);
        delete _positions[msg.sender];
        delete _boosts[msg.sender];

        rewards = _capToBalance(amount, rewards);
        _push(msg.sender, amount + rewards);

        emit Extracted(msg.sender, amount, rewards);
    }

    /// @notice Pays pending rewards; emits no GhostCore event (only the token's Transfer), as in production.
    function claimRewards() external whenNotPaused returns (uint256 rewards) {
        StoredPosition storage pos = _positions[msg.sender];
        if (pos.level == Level.NONE) revert NoPositionExists();
        if (!pos.alive) revert PositionDead();
        _settle(pos);
        LevelState storage state = _levelStates[uint8(pos.level)];
        rewards = _capToBalance(0, _pending(pos, state.accRewardsPerShare));
        pos.rewardDebt = (pos.amount * state.accRewardsPerShare) / REWARD_PRECISION;
        pos.storedRewards = 0;
        if (rewards > 0) _push(msg.sender, rewards);
    }

    /// @notice Applies a boost signed by `boostSigner` (EIP-712, domain GHOSTNET/1, this contract).
    ///         Checks run in the production order: paused, position, expiry, nonce, signer.
    function applyBoost(uint8 boostType, uint16 valueBps, uint64 expiry, bytes32 nonce, bytes calldata signature)
        external
        whenNotPaused
    {
        if (_positions[msg.sender].level == Level.NONE) revert NoPositionExists();
        if (expiry <= block.timestamp) revert SignatureExpired();
        if (usedNonces[nonce]) revert NonceAlreadyUsed();
        address signer = _recover(hashBoost(msg.sender, boostType, valueBps, expiry, nonce), signature);
        if (signer != boostSigner) revert InvalidSignature();
        if (boostType > uint8(BoostType.YIELD_MULTIPLIER)) revert InvalidBoostType();

        usedNonces[nonce] = true;
        Boost[] storage boosts = _boosts[msg.sender];
        // Expired boosts count for nothing; dropping them keeps the death-rate loop short.
        for (uint256 i = boosts.length; i > 0; --i) {
            if (boosts[i - 1].expiry <= block.timestamp) {
                boosts[i - 1] = boosts[boosts.length - 1];
                boosts.pop();
            }
        }
        boosts.push(Boost({ boostType: BoostType(boostType), valueBps: valueBps, expiry: expiry }));

        emit BoostApplied(msg.sender, BoostType(boostType), valueBps, expiry);
    }

    /// @notice Anyone may trigger the reset once the deadline has passed: 25% of every position, applied
    ///         lazily; half the penalty goes to the last depositor. The event names the zero address as the
    ///         winner because, as in production, it is emitted after the last depositor is cleared.
    function triggerSystemReset() external {
        SystemReset storage reset = _systemReset;
        if (block.timestamp < reset.deadline) revert SystemResetNotReady();

        uint256 epoch = reset.epoch;
        uint256 penaltyPool;
        for (uint8 level = 1; level <= 5; ++level) {
            LevelState storage state = _levelStates[level];
            _accAtReset[epoch][level] = state.accRewardsPerShare;
            uint256 remaining = (state.totalStaked * (BPS - SYSTEM_RESET_PENALTY_BPS)) / BPS;
            penaltyPool += state.totalStaked - remaining;
            state.totalStaked = remaining;
        }
        uint256 jackpotAmount = (penaltyPool * JACKPOT_SHARE_BPS) / BPS;
        uint256 burnAmount = (penaltyPool * RESET_BURN_SHARE_BPS) / BPS;
        uint256 protocolAmount = penaltyPool - jackpotAmount - burnAmount;

        reset.epoch = epoch + 1;
        reset.penaltyBps = SYSTEM_RESET_PENALTY_BPS;
        address winner = reset.lastDepositor;
        _push(winner == address(0) ? treasury : winner, jackpotAmount);
        _push(DEAD_ADDRESS, burnAmount);
        _push(treasury, protocolAmount);

        reset.deadline = uint64(block.timestamp) + MAX_RESET_DEADLINE;
        reset.lastDepositor = address(0);
        reset.lastDepositTime = uint64(block.timestamp);

        emit SystemResetTriggered(penaltyPool, reset.lastDepositor, jackpotAmount);
    }

    // ─── TraceScan ──────────────────────────────────────────────────────────────────────────────────────

    /// @notice Marks the users dead. Reverts unless each one is alive at `level`, so a submitDeaths call's
    ///         input is exactly the list of victims (the backend relies on it).
    function processDeaths(uint8 level, address[] calldata deadUsers)
        external
        onlyTraceScan
        returns (uint256 totalDead)
    {
        LevelState storage state = _levelStates[level];
        for (uint256 i; i < deadUsers.length; ++i) {
            address user = deadUsers[i];
            StoredPosition storage pos = _positions[user];
            if (pos.level == Level.NONE) revert NoPositionExists();
            if (!pos.alive) revert PositionDead();
            if (uint8(pos.level) != level) revert LevelMismatch();
            _settle(pos);
            totalDead += pos.amount;
            pos.alive = false;
            pos.frozenStreak = 0;
            state.totalStaked = _saturatingSub(state.totalStaked, pos.amount);
            state.aliveCount -= 1;
            _removeFromLevel(level, user);
        }
        if (state.aliveCount == 0) state.totalStaked = 0;
        emit DeathsProcessed(Level(level), deadUsers.length, totalDead, 0, 0);
    }

    /// @notice End of a scan: cascade of the dead capital (only if anyone died), +1 streak for every alive
    ///         position of the level, next scan scheduled.
    function finalizeScan(uint8 level, uint256 deathCount, uint256 totalDead) external onlyTraceScan {
        if (deathCount > 0) _distributeCascade(level, totalDead);
        finalizedScans[level] += 1;
        LevelState storage state = _levelStates[level];
        state.nextScanTime = uint64(block.timestamp) + _levelConfigs[level].scanInterval;
        emit SurvivorsUpdated(Level(level), state.aliveCount);
    }

    // ─── Owner ──────────────────────────────────────────────────────────────────────────────────────────

    /// @notice Adds `amount` DATA (pulled from the owner) to the level's rewards, pro rata to its stakes.
    function addEmissions(uint8 level, uint256 amount) external onlyOwner {
        if (level == 0 || level > 5) revert InvalidLevel();
        if (amount == 0) revert InvalidAmount();
        _pull(msg.sender, amount);
        LevelState storage state = _levelStates[level];
        if (state.totalStaked > 0) {
            state.accRewardsPerShare += (amount * REWARD_PRECISION) / state.totalStaked;
        }
        emit EmissionsAdded(Level(level), amount);
    }

    function setTraceScan(address traceScan_) external onlyOwner {
        if (traceScan != address(0)) revert TraceScanAlreadySet();
        traceScan = traceScan_;
    }

    function setBoostSigner(address signer) external onlyOwner {
        boostSigner = signer;
    }

    function setTreasury(address treasury_) external onlyOwner {
        treasury = treasury_;
    }

    function setPaused(bool paused_) external onlyOwner {
        paused = paused_;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        owner = newOwner;
    }

    function updateLevelConfig(uint8 level, LevelConfig calldata config) external onlyOwner {
        if (level == 0 || level > 5) revert InvalidLevel();
        _levelConfigs[level] = config;
    }

    /// @notice Development helper: lets tests and the simulator bring a scan forward (or push it back).
    function setNextScanTime(uint8 level, uint64 time) external onlyOwner {
        if (level == 0 || level > 5) revert InvalidLevel();
        _levelStates[level].nextScanTime = time;
    }

    // ─── Views ──────────────────────────────────────────────────────────────────────────────────────────

    function getPosition(address user) external view returns (Position memory position) {
        StoredPosition storage pos = _positions[user];
        (uint256 amount, uint256 debt,) = _settled(pos);
        position = Position({
            amount: amount,
            level: pos.level,
            entryTimestamp: pos.entryTimestamp,
            lastAddTimestamp: pos.lastAddTimestamp,
            rewardDebt: debt,
            alive: pos.alive,
            ghostStreak: _streak(pos)
        });
    }

    function getPendingRewards(address user) external view returns (uint256) {
        StoredPosition storage pos = _positions[user];
        if (!pos.alive) return 0;
        (uint256 amount, uint256 debt, uint256 stored) = _settled(pos);
        uint256 gross = (amount * _levelStates[uint8(pos.level)].accRewardsPerShare) / REWARD_PRECISION;
        return stored + (gross > debt ? gross - debt : 0);
    }

    function getEffectiveDeathRate(address user) public view returns (uint16) {
        StoredPosition storage pos = _positions[user];
        if (pos.level == Level.NONE) return 0;
        uint256 base = _levelConfigs[uint8(pos.level)].baseDeathRateBps;
        uint256 reduction;
        Boost[] storage boosts = _boosts[user];
        for (uint256 i; i < boosts.length; ++i) {
            if (boosts[i].boostType == BoostType.DEATH_REDUCTION && boosts[i].expiry > block.timestamp) {
                reduction += boosts[i].valueBps;
            }
        }
        return reduction >= base ? 0 : uint16(base - reduction);
    }

    function getLevelConfig(uint8 level) external view returns (LevelConfig memory) {
        return _levelConfigs[level];
    }

    function getLevelState(uint8 level) external view returns (LevelState memory) {
        return _levelStates[level];
    }

    function nextScanTime(uint8 level) external view returns (uint64) {
        return _levelStates[level].nextScanTime;
    }

    /// @notice Alive positions of a level (keepers read it to compute a scan's victims).
    function getLevelPositions(uint8 level) external view returns (address[] memory) {
        return _levelPositions[level];
    }

    function getPositionCount(uint8 level) external view returns (uint256) {
        return _levelStates[level].aliveCount;
    }

    function getSystemReset() external view returns (SystemReset memory) {
        return _systemReset;
    }

    function isInLockPeriod(address user) external view returns (bool) {
        StoredPosition storage pos = _positions[user];
        return pos.level != Level.NONE && _isInLockPeriod(uint8(pos.level));
    }

    function isAlive(address user) external view returns (bool) {
        return _positions[user].alive;
    }

    /// @notice The position's level as uint8 (0 = no position), without decoding the whole struct.
    function getLevelOf(address user) external view returns (uint8) {
        return uint8(_positions[user].level);
    }

    /// @notice True for a position removed by culling (false for traced ones, which are dead too).
    function isCulled(address user) external view returns (bool) {
        return _positions[user].culled;
    }

    function getTotalValueLocked() external view returns (uint256 total) {
        for (uint8 level = 1; level <= 5; ++level) {
            total += _levelStates[level].totalStaked;
        }
    }

    function getActiveBoosts(address user) external view returns (Boost[] memory active) {
        Boost[] storage boosts = _boosts[user];
        uint256 count;
        for (uint256 i; i < boosts.length; ++i) {
            if (boosts[i].expiry > block.timestamp) ++count;
        }
        active = new Boost[](count);
        uint256 j;
        for (uint256 i; i < boosts.length; ++i) {
            if (boosts[i].expiry > block.timestamp) active[j++] = boosts[i];
        }
    }

    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 digest the boost signer signs.
    function hashBoost(address user, uint8 boostType, uint16 valueBps, uint64 expiry, bytes32 nonce)
        public
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(BOOST_TYPEHASH, user, boostType, valueBps, expiry, nonce));
        return keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), structHash));
    }

    // ─── Internals ──────────────────────────────────────────────────────────────────────────────────────

    /// @dev Production culls the first entry of the level's (swap-and-pop) list; so do we. The victim gets
    ///      back what the penalty leaves; 30% of the penalty is burned and the rest goes to the level's
    ///      remaining stakers, without a CascadeDistributed event (as in production).
    function _cull(uint8 level, address newEntrant) internal {
        address[] storage list = _levelPositions[level];
        if (list.length == 0) revert LevelAtCapacity();
        address victim = list[0];
        StoredPosition storage pos = _positions[victim];
        _settle(pos);
        LevelState storage state = _levelStates[level];

        uint256 total = pos.amount;
        uint256 penaltyAmount = (total * _levelConfigs[level].cullingPenaltyBps) / BPS;
        uint256 returnedAmount = total - penaltyAmount;

        pos.frozenStreak = _streak(pos);
        pos.alive = false;
        pos.culled = true;
        state.totalStaked = _saturatingSub(state.totalStaked, total);
        state.aliveCount -= 1;
        _removeFromLevel(level, victim);

        if (returnedAmount > 0) _push(victim, returnedAmount);
        if (penaltyAmount > 0) {
            uint256 burnAmount = (penaltyAmount * CASCADE_BURN_BPS) / BPS;
            _push(DEAD_ADDRESS, burnAmount);
            if (state.totalStaked > 0) {
                state.accRewardsPerShare += ((penaltyAmount - burnAmount) * REWARD_PRECISION) / state.totalStaked;
            }
        }

        emit PositionCulled(victim, penaltyAmount, returnedAmount, newEntrant);
    }

    /// @dev 30% to the level's survivors, 30% upstream (safer levels, pro rata to their stakes), 30% burned,
    ///      10% to the treasury. With no survivors the same-level share moves upstream; with nobody upstream
    ///      it is burned.
    function _distributeCascade(uint8 level, uint256 totalDead) internal {
        uint256 sameLevelAmount = (totalDead * CASCADE_SAME_LEVEL_BPS) / BPS;
        uint256 upstreamAmount = (totalDead * CASCADE_UPSTREAM_BPS) / BPS;
        uint256 burnAmount = (totalDead * CASCADE_BURN_BPS) / BPS;
        uint256 protocolAmount = totalDead - sameLevelAmount - upstreamAmount - burnAmount;

        LevelState storage source = _levelStates[level];
        if (source.totalStaked > 0) {
            source.accRewardsPerShare += (sameLevelAmount * REWARD_PRECISION) / source.totalStaked;
        } else {
            upstreamAmount += sameLevelAmount;
            sameLevelAmount = 0;
        }

        uint256 upstreamTvl;
        for (uint8 i = 1; i < level; ++i) {
            upstreamTvl += _levelStates[i].totalStaked;
        }
        if (upstreamTvl == 0) {
            _push(DEAD_ADDRESS, upstreamAmount);
        } else {
            for (uint8 i = 1; i < level; ++i) {
                LevelState storage upstream = _levelStates[i];
                if (upstream.totalStaked > 0) {
                    uint256 share = (upstreamAmount * upstream.totalStaked) / upstreamTvl;
                    upstream.accRewardsPerShare += (share * REWARD_PRECISION) / upstream.totalStaked;
                }
            }
        }
        _push(DEAD_ADDRESS, burnAmount);
        _push(treasury, protocolAmount);

        emit CascadeDistributed(Level(level), sameLevelAmount, upstreamAmount, burnAmount, protocolAmount);
    }

    /// @dev The position as of now: each reset since `resetEpoch` first pays rewards accrued up to it, then
    ///      takes its penalty. Only alive positions pay reset penalties (dead capital already left the pool).
    function _settled(StoredPosition storage pos)
        internal
        view
        returns (uint256 amount, uint256 debt, uint256 stored)
    {
        amount = pos.amount;
        debt = pos.rewardDebt;
        stored = pos.storedRewards;
        if (!pos.alive) return (amount, debt, stored);
        uint8 level = uint8(pos.level);
        uint256 current = _systemReset.epoch;
        for (uint256 epoch = pos.resetEpoch; epoch < current; ++epoch) {
            uint256 acc = _accAtReset[epoch][level];
            uint256 gross = (amount * acc) / REWARD_PRECISION;
            if (gross > debt) stored += gross - debt;
            amount = (amount * (BPS - SYSTEM_RESET_PENALTY_BPS)) / BPS;
            debt = (amount * acc) / REWARD_PRECISION;
        }
    }

    function _settle(StoredPosition storage pos) internal {
        if (!pos.alive || pos.resetEpoch == _systemReset.epoch) return;
        (pos.amount, pos.rewardDebt, pos.storedRewards) = _settled(pos);
        pos.resetEpoch = uint32(_systemReset.epoch);
    }

    function _pending(StoredPosition storage pos, uint256 acc) internal view returns (uint256) {
        uint256 gross = (pos.amount * acc) / REWARD_PRECISION;
        return pos.storedRewards + (gross > pos.rewardDebt ? gross - pos.rewardDebt : 0);
    }

    function _streak(StoredPosition storage pos) internal view returns (uint16) {
        if (!pos.alive) return pos.frozenStreak;
        return uint16(finalizedScans[uint8(pos.level)] - pos.streakBase);
    }

    function _isInLockPeriod(uint8 level) internal view returns (bool) {
        uint64 next = _levelStates[level].nextScanTime;
        return block.timestamp + LOCK_PERIOD >= next && block.timestamp < next;
    }

    function _removeFromLevel(uint8 level, address user) internal {
        address[] storage list = _levelPositions[level];
        uint256 index = _positionIndex[user];
        address last = list[list.length - 1];
        list[index] = last;
        _positionIndex[last] = index;
        list.pop();
        delete _positionIndex[user];
    }

    /// @dev Deposit tiers extend the reset deadline (production's table), capped at 24 h from now.
    function _extendResetTimer(uint256 amount) internal {
        SystemReset storage reset = _systemReset;
        uint64 nowTs = uint64(block.timestamp);
        if (amount >= 1000e18) {
            reset.deadline = nowTs + MAX_RESET_DEADLINE;
        } else {
            uint64 extension = amount < 50e18 ? 1 hours : amount < 200e18 ? 4 hours : amount < 500e18 ? 8 hours : 16 hours;
            if (nowTs + extension > reset.deadline) reset.deadline = nowTs + extension;
            if (reset.deadline > nowTs + MAX_RESET_DEADLINE) reset.deadline = nowTs + MAX_RESET_DEADLINE;
        }
        reset.lastDepositor = msg.sender;
        reset.lastDepositTime = nowTs;
    }

    /// @dev Rounding in the reward accumulators can leave the pool a few wei short of a payout; pay what is there.
    function _capToBalance(uint256 principal, uint256 rewards) internal view returns (uint256) {
        uint256 balance = dataToken.balanceOf(address(this));
        if (principal + rewards <= balance) return rewards;
        return balance > principal ? balance - principal : 0;
    }

    function _pull(address from, uint256 amount) internal {
        if (!dataToken.transferFrom(from, address(this), amount)) revert InvalidAmount();
    }

    function _push(address to, uint256 amount) internal {
        if (amount > 0 && !dataToken.transfer(to, amount)) revert InvalidAmount();
    }

    function _saturatingSub(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a - b : 0;
    }

    /// @dev 65-byte, low-s signatures only (OpenZeppelin ECDSA's rules and errors).
    function _recover(bytes32 digest, bytes calldata signature) internal pure returns (address) {
        if (signature.length != 65) revert ECDSAInvalidSignatureLength(signature.length);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > MAX_S) revert ECDSAInvalidSignatureS(s);
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert ECDSAInvalidSignature();
        return signer;
    }
}
