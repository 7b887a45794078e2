/**
 * Interrupt priorities of the local APIC: the processor-priority register (SDM Vol.3
 * 10.8.3.1) and the arbitration-priority register (SDM Vol.3 10.6.2.4). A priority class is
 * bits 7:4 of a vector or priority value.
 */

/**
 * PPR from TPR and ISRV, the highest in-service vector (-1 for none), SDM Vol.3 10.8.3.1:
 * TPR when TPR[7:4] >= ISRV[7:4], otherwise ISRV[7:4] with PPR[3:0] = 0.
 */
export function processorPriority(tpr: number, isrv: number): number {
  const isrClass = isrv < 0 ? 0 : isrv >>> 4;
  return tpr >>> 4 >= isrClass ? tpr : isrClass << 4;
}

/**
 * APR from TPR, ISRV and IRRV (-1 for none), SDM Vol.3 10.6.2.4: TPR when TPR[7:4] >=
 * IRRV[7:4] and TPR[7:4] > ISRV[7:4]; otherwise the highest of the three classes in bits
 * 7:4 with bits 3:0 zero. (The SDM writes the second case as max(TPR AND ISRV, IRRV); pinvm
 * reads it as the highest class, which is what arbitration needs.)
 */
export function arbitrationPriority(tpr: number, isrv: number, irrv: number): number {
  const tprClass = tpr >>> 4;
  const isrClass = isrv < 0 ? 0 : isrv >>> 4;
  const irrClass = irrv < 0 ? 0 : irrv >>> 4;
  if (tprClass >= irrClass && tprClass > isrClass) return tpr;
  return Math.max(tprClass, isrClass, irrClass) << 4;
}

/**
 * Whether the pending vector `irrv` may be delivered under processor priority `ppr`: only
 * when its class is above PPR[7:4] (SDM Vol.3 10.8.3.1).
 */
export function beatsPriority(irrv: number, ppr: number): boolean {
  return irrv >= 0 && irrv >>> 4 > ppr >>> 4;
}
