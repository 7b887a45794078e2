/** Registers every instruction group into the opcode tables (import for side effects). */
import "./alu.js";
import "./mov.js";
import "./control.js";
import "./stack.js";
import "./io.js";
import "./shift.js";
import "./muldiv.js";
import "./string.js";
import "./flagsops.js";
import "./bits.js";
import "./legacy.js";
import "./control-regs.js";
import "./system-tables.js";
import "./msr-cpuid.js";
import "./exchange.js";
import "./x87.js";
