// Behavioural models of the Gowin SDPX9B and DPX9B block RAMs (18,432 bits, 9-bit bytes),
// for simulating the netlists lowbit synthesizes (lowbit.boards.netlist); Yosys's
// gowin/cells_sim.v has them only as black boxes. Written from the behaviour of Gowin's own
// simulation library (prim_sim.v) for the modes Yosys's map (techlibs/gowin/brams_map.v)
// instantiates:
//  - the memory is one array of bits; a port of width W (9, 18 or 36) addresses word
//    AD[13:k] at bit AD[13:k] * W (k = 3, 4, 5); an 18- or 36-bit write writes the 9-bit
//    bytes whose enable bits AD[1:0] / AD[3:0] are set, a 9-bit write its one byte;
//  - a port works when its CE is high and its BLKSEL equals its BLK_SEL;
//  - READ_MODE 0 (bypass): DO is the output register, loaded at the clock edge from the
//    memory as it was before that edge's writes; a synchronous RESET clears it (RESET_MODE
//    "SYNC"), whatever CE;
//  - DPX9B WRITE_MODE per port: 0 (normal) a write leaves the port's output register alone,
//    1 (write-through) loads it with the written bytes over the old word, 2 (read-before-
//    write) with the old word; a read (WRE low) loads it with the word;
//  - SDPX9B: port A writes (CEA is the write enable), port B reads;
//  - the INIT_RAM_xx parameters give the initial contents (INIT_RAM_00 the lowest bits).
// Not modelled, and refused by lowbit.boards.netlist before a netlist reaches a simulator:
// READ_MODE 1 (the pipeline register), RESET_MODE "ASYNC". The global set/reset (GSR) is
// taken as inactive.
module SDPX9B(input CLKA, CEA, RESETA, CLKB, CEB, RESETB, OCE, input [2:0] BLKSELA, BLKSELB,
              input [13:0] ADA, ADB, input [35:0] DI, output reg [35:0] DO);
  parameter READ_MODE = 1'b0;
  parameter BIT_WIDTH_0 = 36;
  parameter BIT_WIDTH_1 = 36;
  parameter BLK_SEL_0 = 3'b000;
  parameter BLK_SEL_1 = 3'b000;
  parameter RESET_MODE = "SYNC";
  `include "gowin_bsram_init.vh"
  localparam KA = BIT_WIDTH_0 == 9 ? 3 : BIT_WIDTH_0 == 18 ? 4 : 5;
  localparam KB = BIT_WIDTH_1 == 9 ? 3 : BIT_WIDTH_1 == 18 ? 4 : 5;
  wire [14:0] base_a = ADA[13:KA] * BIT_WIDTH_0;
  wire [14:0] base_b = ADB[13:KB] * BIT_WIDTH_1;
  wire [3:0] be = BIT_WIDTH_0 == 9 ? 4'b0001 : BIT_WIDTH_0 == 18 ? {2'b00, ADA[1:0]} : ADA[3:0];
  initial DO = 36'b0;
  integer i;
  always @(posedge CLKA)
    if (CEA && BLKSELA == BLK_SEL_0)
      for (i = 0; i < BIT_WIDTH_0 / 9; i = i + 1)
        if (be[i]) mem[base_a + 9 * i +: 9] <= DI[9 * i +: 9];
  always @(posedge CLKB)
    if (RESETB) DO <= 36'b0;
    else if (CEB && BLKSELB == BLK_SEL_1) begin
      DO <= 36'b0;
      DO[BIT_WIDTH_1 - 1:0] <= mem[base_b +: BIT_WIDTH_1];
    end
endmodule

module DPX9B(input CLKA, CEA, WREA, RESETA, OCEA, CLKB, CEB, WREB, RESETB, OCEB,
             input [2:0] BLKSELA, BLKSELB, input [13:0] ADA, ADB, input [17:0] DIA, DIB,
             output reg [17:0] DOA, DOB);
  parameter READ_MODE0 = 1'b0;
  parameter READ_MODE1 = 1'b0;
  parameter WRITE_MODE0 = 2'b00;
  parameter WRITE_MODE1 = 2'b00;
  parameter BIT_WIDTH_0 = 18;
  parameter BIT_WIDTH_1 = 18;
  parameter BLK_SEL_0 = 3'b000;
  parameter BLK_SEL_1 = 3'b000;
  parameter RESET_MODE = "SYNC";
  `include "gowin_bsram_init.vh"
  localparam KA = BIT_WIDTH_0 == 9 ? 3 : 4;
  localparam KB = BIT_WIDTH_1 == 9 ? 3 : 4;
  wire [14:0] base_a = ADA[13:KA] * BIT_WIDTH_0;
  wire [14:0] base_b = ADB[13:KB] * BIT_WIDTH_1;
  wire [1:0] be_a = BIT_WIDTH_0 == 9 ? 2'b01 : ADA[1:0];
  wire [1:0] be_b = BIT_WIDTH_1 == 9 ? 2'b01 : ADB[1:0];
  wire [17:0] old_a = {{(18 - BIT_WIDTH_0){1'b0}}, mem[base_a +: BIT_WIDTH_0]};
  wire [17:0] old_b = {{(18 - BIT_WIDTH_1){1'b0}}, mem[base_b +: BIT_WIDTH_1]};
  wire [17:0] thru_a = {be_a[1] ? DIA[17:9] : old_a[17:9], be_a[0] ? DIA[8:0] : old_a[8:0]};
  wire [17:0] thru_b = {be_b[1] ? DIB[17:9] : old_b[17:9], be_b[0] ? DIB[8:0] : old_b[8:0]};
  initial begin DOA = 18'b0; DOB = 18'b0; end
  integer i;
  always @(posedge CLKA) begin
    if (CEA && BLKSELA == BLK_SEL_0 && WREA)
      for (i = 0; i < BIT_WIDTH_0 / 9; i = i + 1)
        if (be_a[i]) mem[base_a + 9 * i +: 9] <= DIA[9 * i +: 9];
    if (RESETA) DOA <= 18'b0;
    else if (CEA && BLKSELA == BLK_SEL_0) begin
      if (!WREA || WRITE_MODE0 == 2'b10) DOA <= old_a;
      else if (WRITE_MODE0 == 2'b01) DOA <= BIT_WIDTH_0 == 9 ? {9'b0, DIA[8:0]} : thru_a;
    end
  end
  always @(posedge CLKB) begin
    if (CEB && BLKSELB == BLK_SEL_1 && WREB)
      for (i = 0; i < BIT_WIDTH_1 / 9; i = i + 1)
        if (be_b[i]) mem[base_b + 9 * i +: 9] <= DIB[9 * i +: 9];
    if (RESETB) DOB <= 18'b0;
    else if (CEB && BLKSELB == BLK_SEL_1) begin
      if (!WREB || WRITE_MODE1 == 2'b10) DOB <= old_b;
      else if (WRITE_MODE1 == 2'b01) DOB <= BIT_WIDTH_1 == 9 ? {9'b0, DIB[8:0]} : thru_b;
    end
  end
endmodule
